"""Candidate recipes: what to segment on (a feature space) and how (a family), for each k.

A recipe fits on one snapshot of customers and assigns segments to any other, so the same
recipe can be fitted at a past cutoff (to be judged on what customers did next) and again
today (to be deployed). Families:
- `cluster`: a clustering algorithm (K-means, Ward, GMM, DBSCAN, HDBSCAN) in a space: log RFM,
  rank-transformed lifetime-value outputs, rank RFM + value, or the feature set itself
  (its own preprocessing, as the model stage always did). Needs no outcome.
- `tree`: a k-leaf regression tree of log1p(future net revenue), learnt on a matured
  snapshot (the outcome of the horizon after its cutoff is known).
- `distill`: gradient boosting of the same outcome, then a k-leaf tree fitted to the boosted
  predictions of the customers being segmented.
- `predicted`: K-means on two scores learnt on a matured snapshot, predicted log1p future
  value and P(buys again) (predictive.OutcomeScorer), each standardised over the customers
  being segmented: segments of what customers are expected to do next.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from segments.models.algorithms import candidate_grid, fit_candidate
from segments.models.config import TrainConfig
from segments.models.model import SegmentModel
from segments.models.predictive import (
    LeafAssigner,
    OutcomeScorer,
    fit_booster,
    fit_value_tree,
    leaf_rules,
    within_window,
)
from segments.models.preprocess import build_preprocessor
from segments.models.spaces import RFM_COLUMNS, VALUE_COLUMNS, SpaceTransformer
from segments.models.train import fit_order, package_model

Family = Literal["tree", "distill", "cluster", "predicted"]
FEATURE_SET_SPACE = "feature set"


@dataclass(frozen=True)
class Recipe:
    """One candidate: a family, an algorithm, the columns and their transform, and k."""

    family: Family
    algorithm: str
    space: str  # rfm | value | rfm+value | features+value | feature set
    columns: tuple[str, ...]
    transform: str  # raw | log | rank | pipeline (the feature set's preprocessor)
    k: int | None
    skewed: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    # what a tree learns: log1p future revenue ("value"), or that and buying again together
    # ("value+retention": a two-output tree, each output standardised, so a split is worth
    # as much for telling apart who comes back as for how much they spend)
    target: str = "value"

    @property
    def supervised(self) -> bool:
        """Learns from an outcome, so it needs a matured snapshot to fit on."""
        return self.family != "cluster"

    @property
    def name(self) -> str:
        """e.g. kmeans[rank value], tree[rfm], kmeans[feature set]."""
        if self.family == "predicted":
            return f"{self.algorithm}[predicted {self.target} from {self.space}]"
        shown = {"log": "log ", "rank": "rank ", "clog": "clipped log "}.get(self.transform, "")
        target = "" if self.target == "value" else f"; {self.target}"
        return f"{self.algorithm}[{shown}{self.space}{target}]"

    @property
    def label(self) -> str:
        return self.name if self.k is None else f"{self.name} k={self.k}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        tuples = ("columns", "skewed", "categorical")
        return cls(**{k: tuple(v) if k in tuples else v for k, v in data.items()})


@dataclass
class Snapshot:
    """Customers' features at a cutoff and, once matured, what they did in the horizon."""

    frame: pd.DataFrame
    y: np.ndarray | None = None  # log1p(max(future net revenue, 0)), aligned with frame
    retained: np.ndarray | None = None  # 1 = bought again in the horizon
    label: str = ""
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    # the first day after the outcome horizon (None: no outcome, or not known); a pooled
    # snapshot's is its newest member's
    outcome_end: date | None = None
    # pooled snapshots: each row's window (0 = the newest member); None: one window
    window: np.ndarray | None = None


def training_pool(matured: Sequence[Snapshot], cutoff: date, windows: int) -> Snapshot | None:
    """What a supervised recipe for `cutoff` learns from: the `windows` newest matured
    snapshots whose outcome horizon ended by the cutoff, their customer rows stacked (a
    customer once per snapshot), or None when no horizon has matured by then.

    More matured windows pooled is the usual way to give churn and lifetime-value models
    more rows and more than one season to learn from; a window whose outcome ends after the
    cutoff is never used, so a scorer judged at the cutoff has not seen what it is judged
    on. Rows keep the order of `matured` (newest first) then their own, so the stack, and
    the canonical sample a fit draws from it, depends on the data alone."""
    ready = [s for s in matured if s.y is not None and s.outcome_end is not None]
    ready = sorted(
        (s for s in ready if s.outcome_end <= cutoff),  # type: ignore[operator]
        key=lambda s: s.outcome_end,  # type: ignore[arg-type,return-value]
        reverse=True,
    )[: max(1, windows)]
    if len(ready) <= 1:
        return ready[0] if ready else None
    retained = [s.retained for s in ready]
    return Snapshot(
        pd.concat([s.frame for s in ready], ignore_index=True),
        np.concatenate([np.asarray(s.y, dtype=float) for s in ready]),
        None
        if any(r is None for r in retained)
        else np.concatenate([np.asarray(r, dtype=float) for r in retained]),
        label=f"pool of {len(ready)}: " + "; ".join(s.label for s in ready),
        outcome_end=ready[0].outcome_end,
        window=np.repeat(np.arange(len(ready)), [len(s.frame) for s in ready]),
    )


def recipe_grid(
    config: TrainConfig, numeric: list[str], skewed: list[str], categorical: list[str]
) -> list[Recipe]:
    """Every recipe of this config: the feature set's algorithms, then the named recipes."""
    ks = list(range(config.k_min, config.k_max + 1))
    fs_cols = tuple(dict.fromkeys([*numeric, *skewed, *categorical]))
    tree_cols = tuple(dict.fromkeys([*numeric, *skewed, *VALUE_COLUMNS]))
    out: list[Recipe] = []
    for algo in dict.fromkeys(config.algorithms):
        for k in [None] if algo in ("dbscan", "hdbscan") else ks:
            out.append(
                Recipe(
                    "cluster",
                    algo,
                    FEATURE_SET_SPACE,
                    fs_cols,
                    "pipeline",
                    k,
                    tuple(skewed),
                    tuple(categorical),
                )
            )
    named = {
        "tree_rfm": ("tree", "tree", "rfm", RFM_COLUMNS, "raw"),
        "tree_features_value": ("tree", "tree", "features+value", tree_cols, "raw"),
        "tree_rfm_value_retention": ("tree", "tree", "rfm", RFM_COLUMNS, "raw"),
        "tree_features_value_retention": ("tree", "tree", "features+value", tree_cols, "raw"),
        "distill_features_value": ("distill", "distill", "features+value", tree_cols, "raw"),
        "kmeans_log_rfm": ("cluster", "kmeans", "rfm", RFM_COLUMNS, "log"),
        "kmeans_rank_value": ("cluster", "kmeans", "value", VALUE_COLUMNS, "rank"),
        "kmeans_clog_rfm_value": (
            "cluster",
            "kmeans",
            "rfm+value",
            (*RFM_COLUMNS, *VALUE_COLUMNS),
            "clog",
        ),
        "kmeans_clog_rfm": ("cluster", "kmeans", "rfm", RFM_COLUMNS, "clog"),
        "kmeans_predicted_value_retention": (
            "predicted",
            "kmeans",
            "features+value",
            tree_cols,
            "clog",
        ),
        "kmeans_rank_rfm_value": (
            "cluster",
            "kmeans",
            "rfm+value",
            (*RFM_COLUMNS, *VALUE_COLUMNS),
            "rank",
        ),
    }
    for name in dict.fromkeys(config.recipes):
        family, algo, space, cols, transform = named[name]
        target = "value+retention" if name.endswith("value_retention") else "value"
        out += [Recipe(family, algo, space, tuple(cols), transform, k, target=target) for k in ks]
    return out


_ORDERS: dict[int, dict[tuple[str, ...], np.ndarray]] = {}  # id(frame) -> columns -> order


def canonical_order(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """fit_order of a frame, computed once per frame and columns while the frame lives (a
    training asks for it for every candidate and refit)."""
    key = id(frame)
    if key not in _ORDERS:
        _ORDERS[key] = {}
        weakref.finalize(frame, _ORDERS.pop, key, None)
    cached = _ORDERS[key]
    if tuple(columns) not in cached:
        cached[tuple(columns)] = fit_order(frame, list(columns), "customer_id")
    return cached[tuple(columns)]


def learn_rows(frame: pd.DataFrame, columns: list[str], limit: int, seed: int) -> np.ndarray:
    """Positions a fit learns from: canonical order (values, then id), a seeded sample of at
    most `limit` rows. Sorted positions of a sorted order, so a sample is order-free too."""
    order = canonical_order(frame, list(columns))
    if len(order) <= limit:
        return order
    pick = np.sort(np.random.default_rng(seed).choice(len(order), size=limit, replace=False))
    return order[pick]


_SPACES: dict[int, dict[tuple[Any, ...], tuple[Any, np.ndarray]]] = {}  # id(frame) -> key -> fit


def fitted_space(
    frame: pd.DataFrame, key: tuple[Any, ...], fit: Callable[[], tuple[Any, np.ndarray]]
) -> tuple[Any, np.ndarray]:
    """A preprocessor fitted on rows of frame and those rows transformed, computed once per
    frame and key while the frame lives: every k of a space learns the same transform from
    the same rows, so the candidates of a space share it (a sweep refitted it per k)."""
    ref = id(frame)
    if ref not in _SPACES:
        _SPACES[ref] = {}
        weakref.finalize(frame, _SPACES.pop, ref, None)
    cached = _SPACES[ref]
    if key not in cached:
        pre, X = fit()
        X.flags.writeable = False  # shared by every candidate of the space
        cached[key] = (pre, X)
    return cached[key]


def _matrix(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns as plain float64 (nullable columns' pd.NA as NaN)."""
    return pd.DataFrame(
        frame[columns].to_numpy(dtype=float, na_value=np.nan), columns=columns, index=frame.index
    )


def _package_tree(
    recipe: Recipe,
    tree: Any,
    pre: SpaceTransformer,
    X: np.ndarray,
    seed: int,
    metadata: dict[str, Any],
) -> SegmentModel:
    """Leaves become segments 0..k-1 (largest first, then node id), with their rules."""
    assigner = LeafAssigner(tree)
    leaves = assigner.predict(X)
    ids, sizes = np.unique(leaves, return_counts=True)
    order = np.lexsort((ids, -sizes))
    label_map = np.full(assigner.n_nodes, -1, dtype=int)
    label_map[ids[order]] = np.arange(len(ids))
    cents = np.vstack([X[leaves == ids[j]].mean(axis=0) for j in order])
    rules = leaf_rules(tree, list(recipe.columns), X)
    metadata = {**metadata, "rules": {int(label_map[n]): rule for n, rule in rules.items()}}
    return SegmentModel(
        features=list(recipe.columns),
        preprocessor=pre,  # type: ignore[arg-type]
        algorithm=recipe.algorithm,
        params={"max_leaf_nodes": recipe.k, "space": recipe.space},
        centroids=cents,
        checksum=metadata.pop("checksum", ""),
        estimator=assigner,
        label_map=label_map,
        seed=seed,
        metadata=metadata,
    )


def _booster(train: Snapshot, columns: list[str], config: TrainConfig, seed: int) -> Any:
    """The boosted value model of a training snapshot, fitted once for every k."""
    key = ("booster", tuple(columns), seed, len(train.frame))
    if key not in train.cache:
        rows = learn_rows(train.frame, columns, config.fit_sample, seed)
        pre = SpaceTransformer("raw").fit(_matrix(train.frame.iloc[rows], columns))
        X = pre.transform(_matrix(train.frame.iloc[rows], columns))
        window = None if train.window is None else train.window[rows]
        y = within_window(np.asarray(train.y, dtype=float)[rows], window)
        train.cache[key] = (pre, fit_booster(X, y, seed=seed))
    return train.cache[key]


def _tree_target(recipe: Recipe, train: Snapshot, rows: np.ndarray) -> np.ndarray:
    """What a tree learns on its rows: y, or (y, bought again) each divided by its spread."""
    window = None if train.window is None else train.window[rows]
    y = within_window(np.asarray(train.y, dtype=float)[rows], window)
    if recipe.target == "value":
        return y
    if train.retained is None:
        raise ValueError(f"{recipe.label} learns buying again: the snapshot has no retention")
    again = within_window(np.asarray(train.retained, dtype=float)[rows], window)
    scale = lambda a: a / (a.std() or 1.0)
    return np.column_stack([scale(y), scale(again)])


def _cluster(
    recipe: Recipe,
    X: np.ndarray,
    pre: Any,
    config: TrainConfig,
    seed: int,
    checksum: str,
    meta: dict[str, Any],
) -> SegmentModel:
    """The recipe's clustering algorithm with k = recipe.k on rows already in its space."""
    single = config.model_copy(
        update={
            "algorithms": [recipe.algorithm],
            "k_min": recipe.k or config.k_min,
            "k_max": recipe.k or config.k_max,
        }
    )
    spec = candidate_grid(single, X)[0]
    fit = fit_candidate(spec, X, seed)
    model, _ = package_model(
        X, fit, spec, list(recipe.columns), pre, checksum=checksum, seed=seed, metadata=meta
    )
    model.metadata.pop("checksum", None)
    return model


def _predicted_space(
    recipe: Recipe, frame: pd.DataFrame, train: Snapshot, config: TrainConfig, seed: int
) -> tuple[Pipeline, np.ndarray]:
    """The scores space of a `predicted` recipe: OutcomeScorer learnt on the matured
    snapshot (once per snapshot and columns), then each score standardised over the
    customers being segmented, so value and retention weigh the same in the distances."""
    cols = list(recipe.columns)
    if train.retained is None:
        raise ValueError(f"{recipe.label} learns buying again: the snapshot has no retention")
    key = ("outcome_scorer", tuple(cols), seed, len(train.frame))
    if key not in train.cache:
        rows = learn_rows(train.frame, cols, config.fit_sample, seed)
        train.cache[key] = OutcomeScorer().fit(
            _matrix(train.frame.iloc[rows], cols),
            np.asarray(train.y, dtype=float)[rows],
            np.asarray(train.retained, dtype=float)[rows],
            None if train.window is None else train.window[rows],
        )
    scorer = train.cache[key]
    rows = learn_rows(frame, cols, config.fit_sample, seed)
    scores = scorer.transform(_matrix(frame.iloc[rows], cols))
    scale = StandardScaler().fit(scores)
    return Pipeline([("outcomes", scorer), ("scale", scale)]), scale.transform(scores)


def fit_recipe(
    recipe: Recipe,
    frame: pd.DataFrame,
    train: Snapshot | None,
    config: TrainConfig,
    *,
    seed: int | None = None,
    checksum: str = "",
) -> SegmentModel:
    """Fit a recipe and package it as a model that assigns any frame with these columns.

    Clusterings learn from `frame` (the customers to segment); trees learn from `train`
    (features at a cutoff + the outcome of the horizon after it); distilled trees learn the
    value signal from `train` and their rules from `frame`.
    """
    seed = config.seed if seed is None else seed
    cols = list(recipe.columns)
    meta: dict[str, Any] = {"recipe": recipe.as_dict(), "checksum": checksum}
    if recipe.family == "cluster":

        def fit_space() -> tuple[Any, np.ndarray]:
            data = frame.iloc[learn_rows(frame, cols, config.fit_sample, seed)]
            if recipe.transform == "pipeline":
                numeric = [c for c in cols if c not in recipe.categorical]
                pre: Any = build_preprocessor(
                    numeric,
                    [c for c in recipe.skewed if c in numeric],
                    list(recipe.categorical),
                    config.capping,
                    config.pca_components,
                    seed,
                )
                return pre, np.asarray(pre.fit_transform(data[cols]), dtype=float)
            pre = SpaceTransformer(recipe.transform).fit(_matrix(data, cols))  # type: ignore[arg-type]
            return pre, pre.transform(_matrix(data, cols))

        key = (recipe.transform, tuple(cols), recipe.skewed, recipe.categorical, config.capping)
        key += (config.pca_components, config.fit_sample, seed)
        pre, X = fitted_space(frame, key, fit_space)
        return _cluster(recipe, X, pre, config, seed, checksum, meta)
    if train is None or train.y is None:
        raise ValueError(f"{recipe.label} learns from an outcome: pass a matured snapshot")
    if recipe.family == "predicted":
        pre, X = _predicted_space(recipe, frame, train, config, seed)
        return _cluster(recipe, X, pre, config, seed, checksum, meta)
    if recipe.family == "tree":
        rows = learn_rows(train.frame, cols, config.fit_sample, seed)

        def fit_raw() -> tuple[Any, np.ndarray]:
            data = _matrix(train.frame.iloc[rows], cols)
            pre = SpaceTransformer("raw").fit(data)
            return pre, pre.transform(data)

        pre, X = fitted_space(train.frame, ("raw", tuple(cols), config.fit_sample, seed), fit_raw)
        target = _tree_target(recipe, train, rows)
    else:  # distill: boosted predictions of the customers to segment are the target
        booster_pre, booster = _booster(train, cols, config, seed)
        rows = learn_rows(frame, cols, config.fit_sample, seed)
        data = _matrix(frame.iloc[rows], cols)
        pre = SpaceTransformer("raw").fit(data)
        X = pre.transform(data)
        target = booster.predict(booster_pre.transform(data))
    tree = fit_value_tree(
        X, target, int(recipe.k or 2), min_leaf_share=config.min_leaf_share, seed=seed
    )
    return _package_tree(recipe, tree, pre, X, seed, meta)
