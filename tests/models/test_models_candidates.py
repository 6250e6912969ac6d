"""Phase 2: each candidate family finds well separated blobs, or flags noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segments.models import TrainConfig, fit_segmentation
from segments.models.metrics import knee

CENTERS = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
FAST = {"k_max": 6, "n_init": 4, "bootstrap_rounds": 2, "capping": "none", "threads": 1}


def blobs(n: int = 300, noise: int = 0, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Four blobs plus optional uniform background noise (true label -1)."""
    X, y = make_blobs(n_samples=n, centers=CENTERS, cluster_std=0.8, random_state=seed)
    if noise:
        rng = np.random.default_rng(seed)
        X = np.vstack([X, rng.uniform(-8, 18, size=(noise, 2))])
        y = np.concatenate([y, np.full(noise, -1)])
    df = pd.DataFrame(X, columns=["a", "b"])
    df.insert(0, "customer_id", np.arange(len(df)))
    return df, y


@pytest.mark.parametrize(
    ("algorithm", "extra"),
    [
        ("agglomerative", {}),
        ("agglomerative", {"agglomerative_sample": 150}),  # seeded sample + nearest centroid
        ("gmm", {}),
        ("dbscan", {}),
        ("hdbscan", {}),
    ],
)
def test_each_family_finds_the_blobs(algorithm: str, extra: dict) -> None:
    df, y = blobs()
    config = TrainConfig(algorithms=[algorithm], **FAST, **extra)
    result = fit_segmentation(df, numeric=["a", "b"], config=config)
    assert result.model.k == 4, result.reason
    assert result.model.algorithm == algorithm
    assert adjusted_rand_score(y, result.labels) > 0.95
    assert result.passed_gates
    predicted = result.model.predict(df)  # nearest centroid for methods without predict
    assert adjusted_rand_score(result.labels, predicted) > 0.95


def test_kmeans_switches_to_minibatch_above_threshold() -> None:
    df, _ = blobs()
    config = TrainConfig(**{**FAST, "k_max": 5}, minibatch_threshold=100)
    result = fit_segmentation(df, numeric=["a", "b"], config=config)
    assert result.model.k == 4
    assert '"minibatch": true' in result.candidates["params"].iloc[0]
    assert type(result.model.estimator).__name__ == "MiniBatchKMeans"


def test_gmm_records_bic_and_only_best_bic_competes() -> None:
    df, _ = blobs()
    result = fit_segmentation(
        df, numeric=["a", "b"], config=TrainConfig(algorithms=["gmm"], **FAST)
    )
    table = result.candidates
    assert table["bic"].notna().all()
    assert table.loc[table["eligible"], "bic"].tolist() == [table["bic"].min()]
    assert table.loc[table["chosen"], "k"].item() == 4


@pytest.mark.parametrize("algorithm", ["dbscan", "hdbscan"])
def test_density_methods_flag_noise_and_still_assign_everyone(algorithm: str) -> None:
    df, y = blobs(noise=40)
    config = TrainConfig(algorithms=[algorithm], **FAST)
    result = fit_segmentation(df, numeric=["a", "b"], config=config)
    row = result.candidates.iloc[0]
    assert 0 < row["noise_share"] <= 0.2
    assert result.model.noise_share == pytest.approx(row["noise_share"])
    assert (result.labels >= 0).all()
    clean = y >= 0
    assert adjusted_rand_score(y[clean], result.labels[clean]) > 0.95


def test_noise_gate_rejects_a_mostly_noise_density_fit() -> None:
    df, _ = blobs(noise=40)
    config = TrainConfig(algorithms=["kmeans", "dbscan"], max_noise_share=0.01, **FAST)
    result = fit_segmentation(df, numeric=["a", "b"], config=config)
    dbscan = result.candidates[result.candidates["algorithm"] == "dbscan"].iloc[0]
    assert not dbscan["passed_gates"] and "noise" in dbscan["gate_failures"]
    assert result.model.algorithm == "kmeans"


def test_identical_partitions_tie_and_kmeans_wins_by_grid_order() -> None:
    df, _ = blobs()
    algos = ["kmeans", "agglomerative", "gmm", "dbscan", "hdbscan"]
    config = TrainConfig(algorithms=algos, **{**FAST, "k_max": 5})
    result = fit_segmentation(df, numeric=["a", "b"], config=config)
    assert result.model.algorithm == "kmeans" and result.model.k == 4
    assert result.candidates.loc[result.candidates["algorithm"] == "hdbscan", "is_knee"].item()


def test_kneedle_on_known_curves() -> None:
    ks = [1, 2, 3, 4, 5, 6, 7, 8]
    assert knee(ks, [100, 50, 12, 10, 9, 8, 7, 6]) == 3
    assert knee(ks, [8, 7, 6, 5, 4, 3, 2, 1]) is None  # a straight line has no knee
    assert knee(range(10), np.exp(np.arange(10)), direction="increasing") is not None
