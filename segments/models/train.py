"""Geometric selection (no backtest possible): fit every candidate, score it by internal
indices, pick one by the selection rule, and package the model."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from segments.models.algorithms import (
    CandidateSpec,
    Fit,
    assign_noise,
    candidate_grid,
    fit_candidate,
)
from segments.models.config import TrainConfig
from segments.models.metrics import (
    NOISE,
    calinski_harabasz,
    centroids,
    davies_bouldin,
    knee,
    noise_share,
    silhouette,
    smallest_share,
    stability,
    wcss,
)
from segments.models.model import SegmentModel, data_checksum
from segments.models.preprocess import build_preprocessor, feature_columns
from segments.models.selection import select
from segments.models.sufficiency import InsufficientDataError

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """Everything a run records: the candidate table, the chosen model and why."""

    candidates: pd.DataFrame
    model: SegmentModel
    labels: np.ndarray  # segment per input row, in the caller's row order
    customer_ids: np.ndarray  # id per input row, same order as labels
    reason: str
    elbow_k: int | None
    passed_gates: bool
    backtest: Any = None  # BacktestChoice when chosen by the out-of-time backtest


def score_candidate(spec: CandidateSpec, X: np.ndarray, config: TrainConfig) -> tuple[dict, Fit]:
    """Fit one candidate and compute every metric the selection rule needs."""
    start = time.perf_counter()
    fit = fit_candidate(spec, X, config.seed)
    seconds = time.perf_counter() - start
    seen = fit.labels if fit.fitted_rows is None else fit.labels[fit.fitted_rows]
    labels = assign_noise(X, fit.labels)  # score what will be published: noise joins a segment
    row = {
        "algorithm": spec.algorithm,
        "params": json.dumps(spec.params, sort_keys=True),
        "k": len(np.unique(labels[labels != NOISE])),
        "silhouette": silhouette(X, labels, config.silhouette_sample, config.seed),
        "davies_bouldin": davies_bouldin(X, labels),
        "calinski_harabasz": calinski_harabasz(X, labels),
        "wcss": wcss(X, labels),
        "bic": fit.bic,
        "noise_share": noise_share(seen),
        "smallest_share": smallest_share(labels),
        "stability": stability(
            lambda Xs, s: fit_candidate(spec, Xs, s).labels,
            X,
            fit.labels,
            rounds=config.bootstrap_rounds,
            fraction=config.bootstrap_fraction,
            seed=config.seed,
        ),
        "fit_seconds": round(seconds, 4),
    }
    return row, fit


def mark_knees(table: pd.DataFrame) -> tuple[pd.Series, int | None]:
    """Flag the WCSS elbow per k-swept algorithm; density methods match the run's elbow."""
    is_knee = pd.Series(False, index=table.index)
    elbows: dict[str, int] = {}
    density = table["algorithm"].isin(["dbscan", "hdbscan"])
    for algo, group in table[~density].groupby("algorithm", sort=False):
        at = knee(group["k"], group["wcss"], curve="convex", direction="decreasing")
        if at is not None:
            elbows[str(algo)] = int(at)
            is_knee[group.index[group["k"] == int(at)]] = True
    elbow = elbows.get("kmeans", next(iter(elbows.values()), None))
    if elbow is not None:
        is_knee[density & (table["k"] == elbow)] = True
    return is_knee, elbow


def package_model(
    X: np.ndarray,
    fit: Fit,
    spec: CandidateSpec,
    features: list[str],
    preprocessor: Pipeline,
    *,
    checksum: str,
    seed: int,
    metadata: dict,
) -> tuple[SegmentModel, np.ndarray]:
    """Relabel segments 0..k-1 by size (largest first), assign noise, and build the model."""
    ids, cents = centroids(X, fit.labels)
    noise = fit.labels == NOISE
    labels = assign_noise(X, fit.labels)
    sizes = np.array([(labels == i).sum() for i in ids])
    order = np.lexsort((ids, -sizes))  # size desc, then original id: deterministic
    new_of = {int(ids[j]): new for new, j in enumerate(order)}
    final = np.array([new_of[int(v)] for v in labels], dtype=int)
    width = max(
        int(ids.max()) + 1,
        int(spec.params.get("n_clusters", 0)),
        int(spec.params.get("n_components", 0)),
    )
    label_map = np.full(width, -1, dtype=int)
    for old, new in new_of.items():
        label_map[old] = new
    model = SegmentModel(
        features=features,
        preprocessor=preprocessor,
        algorithm=spec.algorithm,
        params=spec.params,
        centroids=cents[order],
        checksum=checksum,
        estimator=fit.estimator,
        label_map=label_map if fit.estimator is not None else None,
        noise_share=float(noise.mean()),
        seed=seed,
        metadata=metadata,
    )
    return model, final


def fit_order(features: pd.DataFrame, cols: list[str], id_column: str) -> np.ndarray:
    """Row positions in an order that depends on the feature values alone: every fit sees it.

    Fits that sample rows (k-means++ seeding, bootstraps, silhouette samples) depend on row
    order. Ordering by a hash of each row's values (rounded to float32; then the id) makes the segments a
    function of the data alone: ids are pseudonyms whose order changes with
    SEGMENTS_PII_KEY, and only break ties between customers with identical features, which
    any fit treats alike. (A hash sorts in one key; a sort on every column costs ~20x more.)
    """
    cols = [c for c in cols if c in features]
    # float32: DuckDB's parallel sums differ in the last bits from run to run; the order
    # (and every sample drawn from it) must not
    values = features[cols].apply(
        lambda c: c.astype("float32") if pd.api.types.is_float_dtype(c) else c
    )
    digest = pd.util.hash_pandas_object(values, index=False).to_numpy()
    order = np.argsort(digest, kind="stable")
    ranked = digest[order]
    tied = np.zeros(len(order), dtype=bool)
    same = ranked[1:] == ranked[:-1]
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():  # identical rows: their ids decide, so input order never does
        rows = order[tied]
        ids = features[id_column].to_numpy()[rows].astype(str)
        order[tied] = rows[np.lexsort((ids, ranked[tied]))]
    return order


def fit_segmentation(
    features: pd.DataFrame,
    *,
    id_column: str = "customer_id",
    numeric: list[str],
    skewed: list[str] | None = None,
    categorical: list[str] | None = None,
    config: TrainConfig | None = None,
) -> TrainResult:
    """Train and select a segmentation model; same data + config (seed) -> same segments."""
    config = config or TrainConfig()
    skewed, categorical = list(skewed or []), list(categorical or [])
    cols = feature_columns(numeric, skewed, categorical)
    missing = [c for c in [id_column, *cols] if c not in features.columns]
    if missing:
        raise KeyError(f"features lack columns {missing}; check the feature SQL or the lists")
    if features[id_column].duplicated().any():
        raise ValueError(f"{id_column} must be unique per row; deduplicate features first")
    if len(features) <= config.k_min:
        raise InsufficientDataError(
            f"{len(features)} rows cannot form {config.k_min} segments; load more customers"
        )
    order = fit_order(features, cols, id_column)
    data = features.iloc[order].reset_index(drop=True)
    pre = build_preprocessor(
        numeric, skewed, categorical, config.capping, config.pca_components, config.seed
    )
    X = np.asarray(pre.fit_transform(data[cols]), dtype=float)

    rows, fits = [], []
    with threadpool_limits(limits=config.threads):
        specs = candidate_grid(config, X)
        for spec in specs:
            row, fit = score_candidate(spec, X, config)
            log.debug("candidate %s", row)
            rows.append(row)
            fits.append(fit)
    table = pd.DataFrame(rows)
    table["is_knee"], elbow = mark_knees(table)
    checksum = data_checksum(data, [id_column, *cols])

    chosen = select(table, config)
    table = chosen.table
    best = chosen.index
    meta = {"id_column": id_column, "numeric": list(numeric), "skewed": skewed}
    meta |= {"categorical": categorical, "n_rows": len(data), "config": config.model_dump()}
    meta |= {"reason": chosen.reason, "elbow_k": elbow, "passed_gates": chosen.passed_gates}
    spec = specs[best]
    meta |= {
        "selection_mode": "geometric",
        "recipe": {  # segments.models.recipes.Recipe, so a later backtest can refit it
            "family": "cluster",
            "algorithm": spec.algorithm,
            "space": "feature set",
            "columns": cols,
            "transform": "pipeline",
            "k": spec.k,
            "skewed": skewed,
            "categorical": categorical,
        },
    }
    model, sorted_labels = package_model(
        X, fits[best], specs[best], cols, pre, checksum=checksum, seed=config.seed, metadata=meta
    )
    labels = np.empty(len(order), dtype=int)
    labels[order] = sorted_labels  # back to the caller's row order
    return TrainResult(
        candidates=table,
        model=model,
        labels=labels,
        customer_ids=features[id_column].to_numpy(),
        reason=chosen.reason,
        elbow_k=elbow,
        passed_gates=chosen.passed_gates,
    )
