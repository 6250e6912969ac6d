"""Cluster-quality metrics; noise (label -1) is excluded from geometry-based scores."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

NOISE = -1


def _clustered(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Drop noise; None when fewer than 2 clusters remain (scores undefined)."""
    keep = labels != NOISE
    if len(np.unique(labels[keep])) < 2 or keep.sum() <= len(np.unique(labels[keep])):
        return None
    return X[keep], labels[keep]


def silhouette(X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int) -> float:
    """Silhouette on a seeded sample at scale (the exact score is O(n^2))."""
    data = _clustered(X, labels)
    if data is None:
        return float("nan")
    Xc, lc = data
    size = sample_size if len(lc) > sample_size else None
    return float(silhouette_score(Xc, lc, sample_size=size, random_state=seed))


def davies_bouldin(X: np.ndarray, labels: np.ndarray) -> float:
    """Davies-Bouldin index (lower is better)."""
    data = _clustered(X, labels)
    return float("nan") if data is None else float(davies_bouldin_score(*data))


def calinski_harabasz(X: np.ndarray, labels: np.ndarray) -> float:
    """Calinski-Harabasz index (higher is better)."""
    data = _clustered(X, labels)
    return float("nan") if data is None else float(calinski_harabasz_score(*data))


def centroids(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Member means per non-noise label; returns (sorted labels, centroid rows)."""
    ids = np.unique(labels[labels != NOISE])
    if not len(ids):
        return ids, np.empty((0, X.shape[1]))
    return ids, np.vstack([X[labels == i].mean(axis=0) for i in ids])


def wcss(X: np.ndarray, labels: np.ndarray) -> float:
    """Within-cluster sum of squares from labels, so every algorithm is measured the same way."""
    ids, cents = centroids(X, labels)
    return float(sum(((X[labels == i] - c) ** 2).sum() for i, c in zip(ids, cents, strict=True)))


def knee(
    x: Sequence[float], y: Sequence[float], *, curve: str = "convex", direction: str = "decreasing"
) -> float | None:
    """Kneedle: the x where the normalised curve is farthest from its end-to-end chord."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    if len(xs) < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return None
    xn, yn = (xs - xs.min()) / np.ptp(xs), (ys - ys.min()) / np.ptp(ys)
    if direction == "decreasing":
        yn = 1.0 - yn  # mirror so the curve increases from (0,0) to (1,1)
    # convex increasing sits below the diagonal, concave above it; the knee is the farthest point
    diff = xn - yn if (curve == "convex") == (direction == "increasing") else yn - xn
    best = int(np.argmax(diff))
    return float(xs[best]) if diff[best] > 1e-9 else None  # a straight line has no knee


def smallest_share(labels: np.ndarray) -> float:
    """Share of all rows in the smallest non-noise cluster."""
    ids, counts = np.unique(labels[labels != NOISE], return_counts=True)
    return float(counts.min() / len(labels)) if len(ids) else 0.0


def noise_share(labels: np.ndarray) -> float:
    """Share of rows a density method left as noise."""
    return float(np.mean(labels == NOISE)) if len(labels) else 0.0


def stability(
    fit_labels: Callable[[np.ndarray, int], np.ndarray],
    X: np.ndarray,
    labels: np.ndarray,
    *,
    rounds: int,
    fraction: float,
    seed: int,
) -> float:
    """Mean ARI between the full fit's labels and refits on seeded subsamples, on those rows."""
    if rounds <= 0:
        return float("nan")
    n = len(X)
    size = max(2, round(fraction * n))
    scores = []
    for r in range(rounds):
        rng = np.random.default_rng([seed, r])
        idx = np.sort(rng.choice(n, size=size, replace=False))
        refit = fit_labels(X[idx], seed + r + 1)
        scores.append(adjusted_rand_score(labels[idx], refit))
    return float(np.mean(scores))


def _groups(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group index per row and group sizes (small non-negative ints: no sort needed)."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu" and len(labels) and labels.min() >= 0 and labels.max() < 1e6:
        counts = np.bincount(labels)
        present = counts > 0
        remap = np.cumsum(present) - 1
        return remap[labels], counts[present]
    _, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return inv, counts


def _eta2(inv: np.ndarray, counts: np.ndarray, y: np.ndarray) -> float:
    y = np.asarray(y, dtype=float)
    total = float(((y - y.mean()) ** 2).sum()) if len(y) else 0.0
    if total <= 0:
        return 0.0
    means = np.bincount(inv, weights=y, minlength=len(counts)) / counts
    return float((counts * (means - y.mean()) ** 2).sum() / total)


def eta2(labels: np.ndarray, y: np.ndarray) -> float:
    """Between-segment share of the variance of y (0: segments say nothing about y)."""
    return _eta2(*_groups(labels), y)


def adjusted_eta2(value: float, n: int, k: int) -> float:
    """Epsilon squared: eta2 less the share k segments explain by chance (k - 1 df)."""
    return value if n <= k else 1.0 - (1.0 - value) * (n - 1) / (n - k)


def retention_spread(labels: np.ndarray, retained: np.ndarray) -> float:
    """Max - min over segments of the share of customers who bought again."""
    inv, counts = _groups(labels)
    rates = np.bincount(inv, weights=np.asarray(retained, dtype=float), minlength=len(counts))
    rates = rates / counts
    return float(rates.max() - rates.min())


def outcome_scores(labels: np.ndarray, y: np.ndarray, retained: np.ndarray) -> dict[str, float]:
    """How well one assignment separates what customers did next.

    eta2 of y = log1p(future net revenue) and of retained (bought again: 0/1), each also
    adjusted for the number of segments, and the retention spread (max - min).
    """
    inv, counts = _groups(labels)
    n, k = len(inv), len(counts)
    value, again = _eta2(inv, counts, y), _eta2(inv, counts, retained)
    rates = np.bincount(inv, weights=np.asarray(retained, dtype=float), minlength=k) / counts
    return {
        "k": k,
        "n": n,
        "eta2": value,
        "adjusted_eta2": adjusted_eta2(value, n, k),
        "retention_eta2": again,
        "adjusted_retention_eta2": adjusted_eta2(again, n, k),
        "retention_spread": float(rates.max() - rates.min()),
        "smallest_share": float(counts.min() / n),
    }
