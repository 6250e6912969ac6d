"""Everything the report of one run shows, read from the warehouse in one place."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from segments.features import FEATURE_SETS, FeatureSet
from segments.report import data_ops as ops
from segments.report import data_segments as seg
from segments.report.sql_util import table_exists

log = logging.getLogger(__name__)


@dataclass
class ReportData:
    """The run's facts; an empty frame means 'not available in this run', never an error."""

    run: ops.RunInfo
    feature_set: FeatureSet
    stages: pd.DataFrame
    loads: pd.DataFrame
    staged_rows: pd.DataFrame
    quarantine: pd.DataFrame
    quality_summary: pd.DataFrame
    quality_failed: pd.DataFrame
    quality_available: bool
    features: pd.DataFrame  # one row per scored customer: segment + feature columns
    candidates: pd.DataFrame
    catalog: pd.DataFrame
    summary: pd.DataFrame
    key_features: pd.DataFrame
    top_products: pd.DataFrame
    rfm_grid: pd.DataFrame
    rfm_vs_segments: pd.DataFrame
    previous_run: str | None
    migration: pd.DataFrame
    backtests: pd.DataFrame
    events: int
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    pca: pd.DataFrame = field(default_factory=pd.DataFrame)
    tsne: pd.DataFrame = field(default_factory=pd.DataFrame)
    pca_variance: tuple[float, float] = (0.0, 0.0)
    embedding_note: str = ""
    currency: str = "GBP"  # SEGMENTS_CURRENCY: what every money column is in


def load_report_data(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    seed: int = 42,
    threads: int | None = 1,
    tsne_sample: int = 2_000,
    currency: str = "GBP",
) -> ReportData:
    """Read the run's facts; optional tables (quality, backtests, history) may be absent."""
    run = ops.run_info(con, run_id)
    feature_set = FEATURE_SETS.get(run.feature_set)
    if feature_set is None:
        raise ValueError(f"model {run.model_version} uses unknown feature set {run.feature_set!r}")
    features = seg.scored_features(con, run_id, feature_set, run.as_of)
    summary_q, failed_q = ops.quality(con, run_id)
    previous = seg.previous_publish(con, run_id)
    events = 0
    if table_exists(con, "staging.stg_events"):
        events = con.execute("select count(*) from staging.stg_events").fetchone()[0]
    data = ReportData(
        currency=currency,
        run=run,
        feature_set=feature_set,
        stages=ops.stages(con, run_id),
        loads=ops.loads(con, run_id),
        staged_rows=ops.staged_rows(con),
        quarantine=ops.quarantine(con, run_id),
        quality_summary=summary_q,
        quality_failed=failed_q,
        quality_available=table_exists(con, "ops.dq_results"),
        features=features,
        candidates=ops.candidates(con, run.model_version),
        catalog=seg.catalog(con, run.model_version),
        summary=seg.segment_summary(features) if len(features) else pd.DataFrame(),
        key_features=seg.key_features(features, feature_set.numeric),
        top_products=seg.top_products(con, run_id),
        rfm_grid=seg.rfm_grid(features),
        rfm_vs_segments=seg.rfm_vs_segments(features),
        previous_run=previous,
        migration=seg.migration(con, run_id, previous) if previous else pd.DataFrame(),
        backtests=ops.backtests(con, run.model_version),
        events=int(events),
        quality=ops.segment_quality(con, run.model_version),
    )
    if not stored_embedding(con, data):
        add_embedding(data, seed=seed, threads=threads, tsne_sample=tsne_sample)
    return data


def stored_embedding(con: duckdb.DuckDBPyConnection, data: ReportData) -> bool:
    """The 2-D views computed when the model was trained (ops.model_embeddings), if any:
    they only change with the model, so the report reads them instead of refitting."""
    if not table_exists(con, "ops.model_embeddings"):
        return False
    points = con.execute(
        "select method, customer_id, segment_id, x, y from ops.model_embeddings "
        "where model_version = $v order by method, customer_id",
        {"v": data.run.model_version},
    ).df()
    if points.empty:
        return False
    data.pca = points[points["method"] == "pca"].drop(columns="method").reset_index(drop=True)
    data.tsne = points[points["method"] == "tsne"].drop(columns="method").reset_index(drop=True)
    variance = data.run.metrics.get("pca_explained_variance") or [0.0, 0.0]
    data.pca_variance = (float(variance[0]), float(variance[1]))
    trained = data.run.trained_in_run
    if trained and trained != data.run.run_id:
        data.embedding_note = f"customers as of the training run {trained}"
    return True


def add_embedding(data: ReportData, *, seed: int, threads: int | None, tsne_sample: int) -> None:
    """PCA and t-SNE of the model's own feature space; a missing artifact becomes a note."""
    from segments.models import SegmentModel, embed_segments

    path = Path(data.run.artifact_path)
    if data.features.empty:
        data.embedding_note = "No feature rows for this run's as_of, so no embedding."
        return
    if not path.exists():
        data.embedding_note = f"The model artifact {path.name} is not on disk any more."
        return
    try:
        model = SegmentModel.load(path)
        X = model.transform(data.features)
    except (KeyError, TypeError, ValueError) as exc:  # features changed since the model
        log.warning("report embedding skipped: %s", exc)
        data.embedding_note = f"The model could not transform this run's features: {exc}"
        return
    emb = embed_segments(
        X,
        data.features["segment_id"].to_numpy(),
        data.features["customer_id"].to_numpy(),
        tsne_sample=tsne_sample,
        threads=threads,
        seed=seed,
    )
    data.pca, data.tsne, data.pca_variance = emb.pca, emb.tsne, emb.explained_variance
