"""2-D views of the segments for the run report: PCA on all rows, t-SNE on a seeded sample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from segments.models.spaces import SpaceTransformer


@dataclass
class Embedding:
    """pca: every row; tsne: a seeded sample (t-SNE is O(n log n) and slow past a few 1,000)."""

    pca: pd.DataFrame  # customer_id, segment_id, x, y
    tsne: pd.DataFrame  # customer_id, segment_id, x, y
    explained_variance: tuple[float, float]


def _frame(ids: np.ndarray, labels: np.ndarray, xy: np.ndarray, id_column: str) -> pd.DataFrame:
    """Points as a tidy frame the report can plot directly."""
    return pd.DataFrame(
        {id_column: ids, "segment_id": labels.astype(int), "x": xy[:, 0], "y": xy[:, 1]}
    )


def embed_segments(
    X: np.ndarray,
    labels: np.ndarray,
    customer_ids: np.ndarray,
    *,
    id_column: str = "customer_id",
    tsne_sample: int = 3_000,
    tsne_iterations: int = 500,
    threads: int | None = None,
    seed: int = 42,
) -> Embedding:
    """Embed transformed features (SegmentModel.transform) into 2-D, deterministically."""
    with threadpool_limits(limits=threads):
        return _embed(X, labels, customer_ids, id_column, tsne_sample, tsne_iterations, seed)


def _embed(
    X: np.ndarray,
    labels: np.ndarray,
    customer_ids: np.ndarray,
    id_column: str,
    tsne_sample: int,
    tsne_iterations: int,
    seed: int,
) -> Embedding:
    """PCA on every row; t-SNE (PCA-initialised, seeded) on a sorted seeded sample."""
    X = np.asarray(X, dtype=float)
    labels, ids = np.asarray(labels), np.asarray(customer_ids)
    if X.shape[1] >= 2:
        pca = PCA(n_components=2, random_state=seed).fit(X)
        xy, var = pca.transform(X), tuple(float(v) for v in pca.explained_variance_ratio_)
    else:
        xy, var = np.column_stack([X[:, 0], np.zeros(len(X))]), (1.0, 0.0)
    rows = np.arange(len(X))
    if len(X) > tsne_sample:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), tsne_sample, replace=False))
    Xs = X[rows]
    if len(Xs) > 3:
        perplexity = float(min(30.0, (len(Xs) - 1) / 3))
        tsne = TSNE(
            n_components=2,
            perplexity=perplexity,
            init="pca" if X.shape[1] >= 2 else "random",
            max_iter=max(250, tsne_iterations),
            random_state=seed,
        )
        txy = tsne.fit_transform(Xs)
    else:
        txy = np.zeros((len(Xs), 2))
    return Embedding(
        _frame(ids, labels, xy, id_column), _frame(ids[rows], labels[rows], txy, id_column), var
    )


def display_matrix(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The model's own space; a tree's (raw units) is drawn and measured in rank space."""
    if model.algorithm in ("tree", "distill"):
        data = frame[model.features].to_numpy(dtype=float, na_value=np.nan)
        return SpaceTransformer("rank").fit(data).transform(data)
    return np.asarray(model.transform(frame), dtype=float)


def embed_model(
    model: Any,
    frame: pd.DataFrame,
    labels: np.ndarray,
    *,
    seed: int = 42,
    tsne_sample: int = 1_000,
    threads: int | None = None,
) -> Embedding:
    """The 2-D views of a model's segments, computed once at training (the report reads
    them from ops.model_embeddings instead of refitting t-SNE on every run)."""
    return embed_segments(
        display_matrix(model, frame),
        np.asarray(labels),
        frame["customer_id"].to_numpy(),
        tsne_sample=tsne_sample,
        threads=threads,
        seed=seed,
    )
