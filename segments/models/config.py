"""Typed training configuration: the one place modelling knobs enter."""

from __future__ import annotations

from datetime import date
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

Algorithm = Literal["kmeans", "agglomerative", "gmm", "dbscan", "hdbscan"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)  # the one list: params, CLI help, checks
Capping = Literal["iqr", "zscore", "none"]
# What the out-of-time selection maximises on the validation window (models/backtest_select.py)
Objective = Literal["value", "value_and_retention"]
RecipeName = Literal[
    "tree_rfm",
    "tree_features_value",
    "tree_rfm_value_retention",
    "tree_features_value_retention",
    "distill_features_value",
    "kmeans_log_rfm",
    "kmeans_rank_value",
    "kmeans_rank_rfm_value",
    "kmeans_clog_rfm",
    "kmeans_clog_rfm_value",
    "kmeans_predicted_value_retention",
]
RECIPES: tuple[str, ...] = get_args(RecipeName)
# distill is left out by default: it fits a gradient-boosting model per refit (the costliest
# family by far) and, measured out of time, did not separate the future better than the
# plain trees (bench/quality.py, docs/models.md)
DEFAULT_RECIPES = tuple(r for r in RECIPES if r != "distill_features_value")


class TrainConfig(BaseModel):
    """Knobs for candidate search and selection; same config + data + seed -> same segments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k_min: int = Field(3, ge=2, description="smallest number of segments considered")
    k_max: int = Field(8, ge=2, description="largest number of segments considered")
    algorithms: list[Algorithm] = Field(
        default_factory=lambda: ["kmeans"],
        description="families clustering the feature set's own columns (today's model)",
    )
    recipes: list[RecipeName] = Field(
        default_factory=lambda: list(DEFAULT_RECIPES),
        description="other spaces and families searched when an out-of-time backtest runs",
    )
    objective: Objective = Field(
        "value_and_retention",
        description="value: adjusted eta2 of log1p future revenue; value_and_retention: its "
        "mean with the adjusted eta2 of buying again",
    )
    fit_sample: int = Field(
        10_000, ge=100, description="a fit learns from a seeded sample of at most this many rows"
    )
    min_leaf_share: float = Field(
        0.05, gt=0, lt=0.5, description="trees: smallest leaf, as a share of the rows learnt on"
    )
    max_stability_checks: int = Field(
        12, ge=1, description="stability is computed for at most this many best candidates"
    )
    min_segment_share: float = Field(0.02, ge=0, le=1, description="gate: smallest segment share")
    min_stability: float = Field(0.9, ge=-1, le=1, description="gate: mean bootstrap ARI")
    max_noise_share: float = Field(0.2, ge=0, le=1, description="gate for density methods")
    silhouette_sample: int = Field(4_000, ge=100, description="rows sampled for silhouette")
    minibatch_threshold: int = Field(500_000, ge=1, description="rows above which MiniBatchKMeans")
    agglomerative_sample: int = Field(
        5_000, ge=100, description="Ward fits on a seeded sample above this (O(n^2) memory)"
    )
    density_sample: int = Field(
        10_000, ge=100, description="DBSCAN/HDBSCAN fit on a seeded sample above this"
    )
    bootstrap_rounds: int = Field(5, ge=0, description="stability refits; 0 disables the gate")
    bootstrap_fraction: float = Field(0.8, gt=0, le=1)
    capping: Capping = "iqr"
    pca_components: int | None = Field(None, ge=1)
    n_init: int = Field(10, ge=1, description="K-means restarts (fixed, for determinism)")
    dbscan_min_samples: int = Field(10, ge=2)
    hdbscan_min_cluster_size: int | None = Field(
        None, ge=2, description="default: max(5, min_segment_share * rows)"
    )
    knee_bonus: float = Field(0.1, ge=0, description="added to the composite at the WCSS knee")
    backtest_horizon_days: int = Field(
        90, ge=0, description="out-of-time backtest: outcome window length; 0 skips it"
    )
    backtest_cutoff: date | None = Field(
        None, description="validation cutoff; default as_of - backtest_horizon_days"
    )
    backtest_folds: int = Field(
        3,
        ge=1,
        le=6,
        description="validation windows, one horizon apart (fold j validates at cutoff - j x "
        "horizon); the selection averages over them, so one odd quarter cannot decide; "
        "folds without enough history before them are left out",
    )
    pool_windows: int = Field(
        1,
        ge=1,
        le=8,
        description="supervised recipes (trees, predicted scores) learn from up to this many "
        "matured windows pooled, newest first, each ending by the cutoff it is used at, each "
        "window with its own outcome level; 1 (the default) learns from the newest only. "
        "4 quarterly windows (a year, every season once) was measured in bench/quality.py: "
        "docs/models.md",
    )
    prune_older_windows: bool = Field(
        True,
        description="score the older windows only for candidates that could still reach the "
        "band from their newest-window objective (segments/models/pruning.py); the others "
        "are recorded as pruned. False scores every candidate on every window",
    )
    promotion_tolerance: float = Field(
        0.005,
        ge=0,
        description="a challenger may trail the champion's backtest objective by this much",
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="OpenMP/BLAS threads while fitting; None leaves the caller's limits "
        "(e.g. an outer threadpool_limits); 1 avoids oversubscription on small machines",
    )
    seed: int = 42

    @model_validator(mode="after")
    def _check_range(self) -> TrainConfig:
        """Fail early on an empty k range rather than deep inside the search."""
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must be <= k_max ({self.k_max})")
        if not self.algorithms:
            raise ValueError("algorithms must name at least one of " + str(Algorithm))
        return self
