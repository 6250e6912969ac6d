"""Candidate clustering algorithms behind one signature: (spec, X, seed) -> labels + estimator."""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import linkage
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances_argmin
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from segments.models.config import TrainConfig
from segments.models.metrics import NOISE, centroids, knee

PREDICTING = frozenset({"kmeans", "gmm"})  # the others assign new rows to the nearest centroid
_WARD_TREES: OrderedDict[str, np.ndarray] = OrderedDict()  # one tree serves every k
_WARD_CACHE_SIZE = 8


@dataclass(frozen=True)
class CandidateSpec:
    """Everything needed to refit one candidate, so stability refits are like-for-like."""

    algorithm: str
    params: dict[str, Any]
    k: int | None = None  # requested cluster count; None for density methods


@dataclass
class Fit:
    """One fitted candidate: a label per row (-1 = noise) and a predictor when there is one."""

    labels: np.ndarray
    estimator: Any | None = None
    fitted_rows: np.ndarray | None = None  # rows the algorithm saw (None = all)
    bic: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)


def _sample_rows(n: int, limit: int, seed: int) -> np.ndarray | None:
    """Seeded, sorted row sample when n exceeds limit; None means use every row."""
    if n <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def nearest(X: np.ndarray, cents: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid for each row (Euclidean; chunked, so memory stays flat)."""
    return pairwise_distances_argmin(X, cents)


def assign_noise(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Noise rows join the nearest cluster centroid, as they will when the model scores them."""
    noise = labels == NOISE
    ids, cents = centroids(X, labels)
    if not noise.any() or not len(ids):
        return labels
    out = labels.copy()
    out[noise] = ids[nearest(X[noise], cents)]
    return out


def ward_tree(X: np.ndarray) -> np.ndarray:
    """Ward linkage of X, memoised by content: the k sweep and its refits reuse each tree."""
    key = hashlib.sha1(np.ascontiguousarray(X).tobytes()).hexdigest() + str(X.shape)
    if key in _WARD_TREES:
        _WARD_TREES.move_to_end(key)
        return _WARD_TREES[key]
    tree = linkage(X, method="ward")
    _WARD_TREES[key] = tree
    while len(_WARD_TREES) > _WARD_CACHE_SIZE:
        _WARD_TREES.popitem(last=False)
    return tree


def cut_tree_k(tree: np.ndarray, k: int) -> np.ndarray:
    """Labels for exactly k clusters: apply the first n-k merges (union-find), number by leaf."""
    n = len(tree) + 1
    parent = np.arange(2 * n - 1)
    for i in range(n - k):
        parent[int(tree[i, 0])] = parent[int(tree[i, 1])] = n + i
    roots = np.arange(n)
    while True:  # pointer jumping until every leaf points at its root
        nxt = parent[roots]
        if np.array_equal(nxt, roots):
            break
        roots = nxt
    _, labels = np.unique(roots, return_inverse=True)
    return labels.astype(int)


def kdistance_eps(X: np.ndarray, min_samples: int, sample: int, seed: int) -> float:
    """DBSCAN eps at the knee of the sorted k-distance curve (Ester et al. heuristic)."""
    rows = _sample_rows(len(X), sample, seed)
    Xs = X if rows is None else X[rows]
    k = min(min_samples, len(Xs) - 1)
    dist, _ = NearestNeighbors(n_neighbors=k).fit(Xs).kneighbors(Xs)
    kd = np.sort(dist[:, -1])
    at = knee(np.arange(len(kd)), kd, curve="convex", direction="increasing")
    eps = float(kd[int(at)]) if at is not None else float(np.median(kd))
    return max(eps, 1e-9)


def candidate_grid(config: TrainConfig, X: np.ndarray) -> list[CandidateSpec]:
    """All candidates for this config; data-dependent params (eps, sizes) are fixed here."""
    n = len(X)
    ks = [k for k in range(config.k_min, config.k_max + 1) if k < n]
    specs: list[CandidateSpec] = []
    for algo in dict.fromkeys(config.algorithms):
        if algo == "kmeans":
            mini = n > config.minibatch_threshold
            for k in ks:
                p = {"n_clusters": k, "n_init": 3 if mini else config.n_init, "minibatch": mini}
                specs.append(CandidateSpec("kmeans", p, k))
        elif algo == "agglomerative":
            for k in ks:
                p = {"n_clusters": k, "linkage": "ward", "fit_sample": config.agglomerative_sample}
                specs.append(CandidateSpec("agglomerative", p, k))
        elif algo == "gmm":
            for k in ks:
                p = {"n_components": k, "covariance_type": "full", "n_init": 3}
                specs.append(CandidateSpec("gmm", p, k))
        elif algo == "dbscan":
            m = config.dbscan_min_samples
            eps = kdistance_eps(X, m, config.density_sample, config.seed)
            p = {"eps": round(eps, 6), "min_samples": m, "fit_sample": config.density_sample}
            specs.append(CandidateSpec("dbscan", p))
        elif algo == "hdbscan":
            size = config.hdbscan_min_cluster_size or max(
                5, math.ceil(config.min_segment_share * min(n, config.density_sample))
            )
            p = {
                "min_cluster_size": size,
                "min_samples": config.dbscan_min_samples,
                "fit_sample": config.density_sample,
            }
            specs.append(CandidateSpec("hdbscan", p))
        else:
            raise ValueError(f"unknown algorithm {algo!r}")
    return specs


def _fit_on_sample(spec: CandidateSpec, X: np.ndarray, seed: int) -> Fit:
    """Fit a method without predict on a seeded sample; other rows go to the nearest centroid."""
    p = spec.params
    rows = _sample_rows(len(X), p["fit_sample"], seed)
    Xs = X if rows is None else X[rows]
    if spec.algorithm == "agglomerative":
        sample_labels = cut_tree_k(ward_tree(Xs), p["n_clusters"])
    elif spec.algorithm == "dbscan":
        sample_labels = DBSCAN(eps=p["eps"], min_samples=p["min_samples"]).fit_predict(Xs)
    else:
        sample_labels = HDBSCAN(
            min_cluster_size=p["min_cluster_size"], min_samples=p["min_samples"], copy=True
        ).fit_predict(Xs)
    sample_labels = sample_labels.astype(int)
    sample_labels[sample_labels < NOISE] = NOISE  # HDBSCAN marks inf/nan rows as -2/-3
    if rows is None:
        return Fit(sample_labels)
    labels = np.full(len(X), NOISE, dtype=int)
    labels[rows] = sample_labels
    ids, cents = centroids(Xs, sample_labels)
    rest = np.setdiff1d(np.arange(len(X)), rows)
    if len(ids):
        labels[rest] = ids[nearest(X[rest], cents)]
    return Fit(labels, fitted_rows=rows)


def fit_candidate(spec: CandidateSpec, X: np.ndarray, seed: int) -> Fit:
    """Fit one candidate deterministically for a given seed."""
    p = spec.params
    if spec.algorithm == "kmeans":
        if p["minibatch"]:
            est: Any = MiniBatchKMeans(
                n_clusters=p["n_clusters"], n_init=p["n_init"], batch_size=4096, random_state=seed
            )
        else:
            est = KMeans(n_clusters=p["n_clusters"], n_init=p["n_init"], random_state=seed)
        est.fit(X)
        return Fit(est.predict(X).astype(int), estimator=est)
    if spec.algorithm == "gmm":
        est = GaussianMixture(
            n_components=p["n_components"],
            covariance_type=p["covariance_type"],
            n_init=p["n_init"],
            random_state=seed,
        ).fit(X)
        return Fit(est.predict(X).astype(int), estimator=est, bic=float(est.bic(X)))
    return _fit_on_sample(spec, X, seed)
