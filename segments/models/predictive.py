"""Predictive segmentation: segments learnt where the outcome is already known.

At a past cutoff the next horizon has happened, so a shallow regression tree can learn
which ranges of today's features tell customers' future value apart: its k leaves are k
segments, each with a readable rule ("recency_days <= 81.5 and frequency > 10.5"). The
rules are then applied to today's customers. A distilled tree first lets gradient boosting
learn the value signal, then fits the k-leaf tree to the boosted predictions of the
customers being segmented: the same kind of rules, with less noise in the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.tree import DecisionTreeRegressor


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
