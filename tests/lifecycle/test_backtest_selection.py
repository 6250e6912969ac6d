"""The selection rule uses the business backtest: baseline-beaters first, then business_score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from segments.models import TrainConfig, fit_segmentation, select

CONFIG = TrainConfig(k_min=3, k_max=8, bootstrap_rounds=0)


def table(**business: list) -> pd.DataFrame:
    """Three passing candidates; A has the best quality scores, C the worst."""
    frame = pd.DataFrame(
        {
            "algorithm": ["kmeans"] * 3,
            "params": ["{}"] * 3,
            "k": [3, 4, 5],
            "silhouette": [0.5, 0.4, 0.3],
            "davies_bouldin": [0.8, 0.9, 1.0],
            "calinski_harabasz": [900.0, 800.0, 700.0],
            "bic": [np.nan] * 3,
            "noise_share": [0.0] * 3,
            "smallest_share": [0.2] * 3,
            "stability": [np.nan] * 3,
            "is_knee": [False] * 3,
        }
    )
    return frame.assign(**business)


def test_quality_alone_picks_the_best_quality() -> None:
    assert select(table(), CONFIG).index == 0


def test_business_score_can_outweigh_quality() -> None:
    chosen = select(table(business_score=[0.8, 1.0, 1.5]), CONFIG)
    # composite: A 1 + 1/3, B 2/3 + 2/3, C 1/3 + 1: a tie broken by silhouette -> A
    assert chosen.index == 0
    heavy = CONFIG.model_copy(update={"business_weight": 2.0})
    assert select(table(business_score=[0.8, 1.0, 1.5]), heavy).index == 2


def test_candidates_beating_the_rfm_baseline_are_preferred() -> None:
    chosen = select(
        table(business_score=[0.9, 1.1, 1.05], beats_baseline=[False, True, True]), CONFIG
    )
    assert chosen.index == 1
    assert "beats the RFM segments on both backtest summaries" in chosen.reason
    none_beat = select(
        table(business_score=[0.9, 0.8, 0.7], beats_baseline=[False, None, False]), CONFIG
    )
    assert none_beat.index == 0
    assert "no passing candidate beats the RFM segments" in none_beat.reason


def test_train_backtests_only_gate_passing_candidates() -> None:
    X, _ = make_blobs(
        n_samples=300,
        centers=[[0, 0], [10, 0], [0, 10], [10, 10]],
        cluster_std=0.8,
        random_state=0,
    )
    df = pd.DataFrame(X, columns=["a", "b"]).assign(customer_id=np.arange(300))
    seen: list[int] = []

    def business(model) -> dict:
        seen.append(model.k)
        good = model.k == 5  # pretend only k=5 tells us about the future
        return {
            "business_score": 2.0 if good else 0.5,
            "explained_variance": 0.3,
            "retention_spread": 0.5,
            "beats_baseline": good,
        }

    config = TrainConfig(
        k_min=3, k_max=6, n_init=2, bootstrap_rounds=0, threads=1, min_segment_share=0.1
    )
    result = fit_segmentation(df, numeric=["a", "b"], config=config, business=business)
    passing = result.candidates[result.candidates["passed_gates"]]
    assert sorted(seen) == sorted(passing["k"].tolist())
    assert result.model.k == 5
    assert result.candidates.loc[result.candidates["chosen"], "business_score"].item() == 2.0
    assert result.candidates.loc[~result.candidates["passed_gates"], "business_score"].isna().all()


@pytest.mark.parametrize("weight", [0.0])
def test_zero_weight_ignores_the_score_but_not_the_baseline(weight: float) -> None:
    config = CONFIG.model_copy(update={"business_weight": weight})
    chosen = select(
        table(business_score=[0.1, 9.0, 0.2], beats_baseline=[True, False, True]), config
    )
    assert chosen.index == 0
