"""Fit every candidate, score it, pick one by the selection rule, and package the model."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
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
from segments.models.selection import gate_failures, select
from segments.models.sufficiency import InsufficientDataError

log = logging.getLogger(__name__)

# Scores a packaged candidate on past data (segments.lifecycle.backtest): a summary holding at least
# business_score (higher better), explained_variance, retention_spread and beats_baseline;
# None when it cannot be scored.
BusinessScorer = Callable[[SegmentModel], dict[str, Any] | None]
BUSINESS_COLUMNS = {
    "business_score": "business_score",
    "backtest_explained_variance": "explained_variance",
    "backtest_retention_spread": "retention_spread",
    "beats_baseline": "beats_baseline",
}


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


def add_business_scores(
    table: pd.DataFrame,
    business: BusinessScorer,
    build: Callable[[int], SegmentModel],
    config: TrainConfig,
) -> pd.DataFrame:
    """Backtest the candidates that pass the gates (the others cannot win), bounding cost."""
    table = table.assign(**{col: np.nan for col in BUSINESS_COLUMNS})
    table["beats_baseline"] = table["beats_baseline"].astype(object)
    for i, row in table.iterrows():
        if gate_failures(row, config):
            continue
        summary = business(build(int(i)))
        if summary is None:
            continue
        for col, key in BUSINESS_COLUMNS.items():
            table.at[i, col] = summary.get(key)
    return table


def fit_order(features: pd.DataFrame, cols: list[str], id_column: str) -> np.ndarray:
    """Row positions sorted by the feature values, then the id: the order every fit sees.

    Fits that sample rows (k-means++ seeding, bootstraps, silhouette samples) depend on row
    order. Sorting by values makes the segments a function of the data alone: ids are
    pseudonyms whose order changes with SEGMENTS_PII_KEY, and only break ties between
    customers with identical features, which any fit treats alike.
    """
    keyed = features[[*cols, id_column]].reset_index(drop=True)
    return keyed.sort_values(
        [*cols, id_column], kind="mergesort", na_position="last"
    ).index.to_numpy()


def fit_segmentation(
    features: pd.DataFrame,
    *,
    id_column: str = "customer_id",
    numeric: list[str],
    skewed: list[str] | None = None,
    categorical: list[str] | None = None,
    config: TrainConfig | None = None,
    business: BusinessScorer | None = None,
) -> TrainResult:
    """Train and select a segmentation model; same data + config (seed) -> same segments.

    `business` (optional) backtests each gate-passing candidate; its business_score and
    beats_baseline then take part in the selection rule.
    """
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

    def build(i: int, metadata: dict | None = None) -> SegmentModel:
        """Package candidate i as the model it would be if chosen."""
        return package_model(
            X,
            fits[i],
            specs[i],
            cols,
            pre,
            checksum=checksum,
            seed=config.seed,
            metadata=metadata or {},
        )[0]

    if business is not None:
        with threadpool_limits(limits=config.threads):
            table = add_business_scores(table, business, build, config)
    chosen = select(table, config)
    table = chosen.table
    best = chosen.index
    meta = {"id_column": id_column, "numeric": list(numeric), "skewed": skewed}
    meta |= {"categorical": categorical, "n_rows": len(data), "config": config.model_dump()}
    meta |= {"reason": chosen.reason, "elbow_k": elbow, "passed_gates": chosen.passed_gates}
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
