"""Everything the report of one run shows, read from the warehouse in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
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
class View:
    """One 2-D view of the segments (PCA, t-SNE): its points are read only when its chart is
    drawn; `key` stands for them in the chart cache's digest (see chart_cache)."""

    method: str
    rows: int
    key: object
    points: Callable[[], pd.DataFrame]


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
    views: list[View] = field(default_factory=list)  # PCA first, then t-SNE
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
    they only change with the model, so the report reads them instead of refitting.

    Only a count and a digest of each view's rows are read here (one pass in DuckDB); the
    points themselves (every customer for PCA) only when a chart of them is not cached yet.
    An erasure deletes rows, so it changes the digest and the chart is drawn anew.
    """
    if not table_exists(con, "ops.model_embeddings"):
        return False
    version = data.run.model_version
    stored = con.execute(
        "select method, count(*), sum(hash(customer_id, segment_id, x, y)::hugeint)::varchar "
        "from ops.model_embeddings where model_version = $v group by method",
        {"v": version},
    ).fetchall()
    if not stored:
        return False
    by_method = {method: (rows, digest) for method, rows, digest in stored}

    def reader(method: str) -> Callable[[], pd.DataFrame]:
        return lambda: con.execute(
            "select customer_id, segment_id, x, y from ops.model_embeddings "
            "where model_version = $v and method = $m order by customer_id",
            {"v": version, "m": method},
        ).df()

    data.views = [
        View(method, int(rows), (version, method, rows, digest), reader(method))
        for method in ("pca", "tsne")
        for rows, digest in [by_method.get(method, (0, None))]
    ]
    variance = data.run.metrics.get("pca_explained_variance") or [0.0, 0.0]
    data.pca_variance = (float(variance[0]), float(variance[1]))
    trained = data.run.trained_in_run
    if trained and trained != data.run.run_id:
        data.embedding_note = f"customers as of the training run {trained}"
    return True


def computed_views(pca: pd.DataFrame, tsne: pd.DataFrame) -> list[View]:
    """Views computed by this report (no stored embedding): the frames are their own key."""
    return [
        View(method, len(frame), frame, lambda f=frame: f)
        for method, frame in (("pca", pca), ("tsne", tsne))
    ]


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
    data.views = computed_views(emb.pca, emb.tsne)
    data.pca_variance = emb.explained_variance
