"""Predictive segmentation: segments learnt where the outcome is already known.

At a past cutoff the next horizon has happened, so a shallow regression tree can learn
which ranges of today's features tell customers' future value apart: its k leaves are k
segments, each with a readable rule ("recency_days <= 81.5 and frequency > 10.5"). The
rules are then applied to today's customers. A distilled tree first lets gradient boosting
learn the value signal, then fits the k-leaf tree to the boosted predictions of the
customers being segmented: the same kind of rules, with less noise in the target.

Segments of what customers are predicted to do (`OutcomeScorer`): a linear model of log1p
future value and a logistic model of buying again, learnt at the past cutoff on clipped-log
features, score every customer; clustering the two scores gives segments that differ in
both predicted value and retention by construction, the two things the backtest judges.
Linear models on log features need few customers, hardly overfit a small retailer's
history and cost little; each segment is read by its profile (predicted value, P(buy again)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.validation import check_is_fitted

from segments.models.spaces import SpaceTransformer


class LeafAssigner:
    """A fitted tree as a segment assigner: predict() gives each row's leaf (node id)."""

    def __init__(self, tree: DecisionTreeRegressor) -> None:
        self.tree = tree

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.tree.apply(np.asarray(X, dtype=np.float32))

    @property
    def n_nodes(self) -> int:
        return int(self.tree.tree_.node_count)


def fit_value_tree(
    X: np.ndarray, y: np.ndarray, k: int, *, min_leaf_share: float, seed: int
) -> DecisionTreeRegressor:
    """A regression tree with at most k leaves on y, no leaf under min_leaf_share of rows."""
    return DecisionTreeRegressor(
        max_leaf_nodes=k,
        min_samples_leaf=max(1, math.ceil(min_leaf_share * len(X))),
        random_state=seed,
    ).fit(X, y)


def fit_booster(X: np.ndarray, y: np.ndarray, *, seed: int) -> HistGradientBoostingRegressor:
    """Gradient boosting of the future value; no early stopping (its split is random)."""
    return HistGradientBoostingRegressor(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        early_stopping=False,
        random_state=seed,
    ).fit(X, y)


# Ridge / logistic penalty per customer learnt on, on standardised features: 1 shrinks every
# direction the features vary in less than one feature's own variance (collinear money and
# count columns), the unit choice. Segments need the scores' directions to stay put when
# the customers learnt on change (the bootstrap stability gate refits on subsamples, and
# every customer near a boundary moves with them) more than the last bit of fit; weakly
# penalised (ridge alpha 1) scores were measured too unstable at k = 7-8 (ARI ~0.8).
SHRINK = 1.0


class OutcomeScorer(TransformerMixin, BaseEstimator):
    """Features -> (predicted log1p future value, P(buys again)), learnt on a matured
    snapshot: ridge and logistic regression (penalty SHRINK per customer) on clipped-log,
    standardised features (SpaceTransformer("clog")), so a currency, a price level or one
    wholesaler does not set the scale. The penalty shrinks both scores toward their means:
    they rank customers (who spends, who comes back) rather than give calibrated amounts or
    probabilities, which is all a clustering of the standardised scores uses. A snapshot
    where everyone (or no one) bought again predicts that share."""

    def fit(
        self,
        X: pd.DataFrame | np.ndarray,
        y: np.ndarray,
        retained: np.ndarray,
        window: np.ndarray | None = None,
    ) -> OutcomeScorer:
        """window: each row's matured window when several are pooled; each window then
        has its own level (WINDOW_LEVELS), so a busier season is not learnt as a slope."""
        self.space_ = SpaceTransformer("clog").fit(X)
        Z = self.space_.transform(X)
        penalty = SHRINK * max(len(Z), 1)  # per customer: the same shrinkage at any size
        levels = _window_columns(window)
        # ridge with an unpenalised level per window = ridge on values centred per window
        centre = lambda a: within_window(a, window)
        self.value_ = Ridge(alpha=penalty).fit(centre(Z), centre(np.asarray(y, dtype=float)))
        again = np.asarray(retained, dtype=float)
        self.levels_ = None if levels is None else levels.mean(axis=0)  # an average window
        Za = Z if levels is None else np.column_stack([Z, WINDOW_LEVELS * levels])
        self.again_: LogisticRegression | float = (
            LogisticRegression(max_iter=1000, C=1.0 / penalty).fit(Za, again.astype(int))
            if 0 < again.mean() < 1
            else float(again.mean() if len(again) else 0.0)
        )
        return self

    def transform(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, ["space_", "value_"])
        Z = self.space_.transform(X)
        levels = getattr(self, "levels_", None)
        Za = (
            Z
            if levels is None
            else np.column_stack([Z, np.tile(WINDOW_LEVELS * levels, (len(Z), 1))])
        )
        p = (
            self.again_.predict_proba(Za)[:, 1]
            if isinstance(self.again_, LogisticRegression)
            else np.full(len(Z), self.again_)
        )
        return np.column_stack([self.value_.predict(Z), p])


# The logistic model's per-window level columns are scaled by this, so the penalty on their
# coefficients is 1 / WINDOW_LEVELS**2 of a feature's: nearly free, as a level should be.
WINDOW_LEVELS = 10.0


def within_window(values: np.ndarray, window: np.ndarray | None) -> np.ndarray:
    """values minus their own window's mean (columns of a 2-D array each): in a pool of
    windows, a season with more buyers raises every customer's outcome, which is not a
    difference between customers for a model to learn from features."""
    values = np.asarray(values, dtype=float)
    if window is None or len(np.unique(window)) < 2:
        return values
    _, group = np.unique(window, return_inverse=True)
    sums = np.zeros((group.max() + 1, *values.shape[1:]))
    np.add.at(sums, group, values)
    counts = np.bincount(group).reshape(-1, *([1] * (values.ndim - 1)))
    return values - (sums / counts)[group]


def _window_columns(window: np.ndarray | None) -> np.ndarray | None:
    """One 0/1 column per pooled window (None for one window)."""
    if window is None or len(np.unique(window)) < 2:
        return None
    _, group = np.unique(np.asarray(window), return_inverse=True)
    return np.eye(group.max() + 1)[group]


def _readable(threshold: float, values: np.ndarray) -> float:
    """The shortest decimal that splits `values` exactly where the threshold does: a tree
    splits halfway between two observed values (3.5 orders), people read whole ones (3)."""
    below = values[values <= threshold]
    above = values[values > threshold]
    lo = float(below.max()) if len(below) else -np.inf
    hi = float(above.min()) if len(above) else np.inf
    for places in range(7):
        scale = 10.0**places
        shown = math.floor(threshold * scale) / scale
        if lo <= shown < hi:
            return shown
    return threshold


def _fmt(value: float) -> str:
    return f"{value:,.6f}".rstrip("0").rstrip(".").replace(",", "")


def _bound(name: str, lo: float, hi: float) -> str:
    """One feature's range on a leaf's path, in the feature's own units."""
    if lo > -np.inf and hi < np.inf:
        return f"{_fmt(lo)} < {name} <= {_fmt(hi)}"
    return f"{name} > {_fmt(lo)}" if lo > -np.inf else f"{name} <= {_fmt(hi)}"


def leaf_rules(
    tree: DecisionTreeRegressor, columns: Sequence[str], X: np.ndarray
) -> dict[int, str]:
    """Leaf node id -> its rule: the splits on its path, merged into one range per feature.

    Thresholds are shown as the shortest decimal that splits the rows learnt on (X) the same
    way, so a rule read as a filter on those rows selects exactly the segment's members.
    """
    t = tree.tree_
    X = np.asarray(X, dtype=np.float32).astype(float)  # the tree compares float32 values
    rules: dict[int, str] = {}
    stack: list[tuple[int, dict[str, tuple[float, float]]]] = [(0, {})]
    while stack:
        node, bounds = stack.pop()
        if t.children_left[node] == -1:
            parts = [_bound(name, lo, hi) for name, (lo, hi) in bounds.items()]
            rules[node] = " and ".join(parts) or "all customers"
            continue
        j = int(t.feature[node])
        name, threshold = columns[j], _readable(float(t.threshold[node]), X[:, j])
        lo, hi = bounds.get(name, (-np.inf, np.inf))
        stack.append((int(t.children_right[node]), {**bounds, name: (max(lo, threshold), hi)}))
        stack.append((int(t.children_left[node]), {**bounds, name: (lo, min(hi, threshold))}))
    return rules
