"""Stable segment ids across retrains: overlap matching, centroid matching, names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from segments.models import (
    TrainConfig,
    fit_segmentation,
    inherit_names,
    match_segments,
    member_centroids,
)

CENTERS = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
FAST = {"k_max": 5, "n_init": 4, "bootstrap_rounds": 0, "capping": "none", "threads": 1}


def blobs() -> pd.DataFrame:
    """Blobs with unequal sizes so that the size order of segments is meaningful."""
    X, _ = make_blobs(
        n_samples=[160, 110, 80, 50], centers=CENTERS, cluster_std=0.8, random_state=5
    )
    df = pd.DataFrame(X, columns=["a", "b"])
    df.insert(0, "customer_id", [f"c{i}" for i in range(len(df))])
    return df


def test_refit_on_a_resample_keeps_the_ids() -> None:
    df = blobs()
    first = fit_segmentation(df, numeric=["a", "b"], config=TrainConfig(**FAST))
    # previous run published arbitrary stable ids (e.g. after earlier retrains)
    stable = {0: 7, 1: 3, 2: 11, 3: 5}
    previous = pd.Series([stable[v] for v in first.labels], index=first.customer_ids)
    resample = df.sample(frac=0.8, random_state=1)
    second = fit_segmentation(resample, numeric=["a", "b"], config=TrainConfig(**FAST, seed=99))
    match = match_segments(second.labels, customer_ids=second.customer_ids, previous=previous)
    assert sorted(match.mapping.values()) == [3, 5, 7, 11]
    assert match.new_ids == [] and match.retired_ids == []
    assert match.ari == pytest.approx(1.0)
    assert match.common_customers == len(resample)
    new_ids = pd.Series(match.apply(second.labels), index=second.customer_ids)
    assert (new_ids == previous.loc[new_ids.index]).all()


def test_permuted_labels_map_back_and_split_gets_a_fresh_id() -> None:
    ids = [f"c{i}" for i in range(12)]
    previous = dict(zip(ids, [4] * 6 + [9] * 6, strict=True))
    new = np.array([2] * 6 + [0] * 3 + [1] * 3)  # segment 9 split in two
    match = match_segments(new, customer_ids=ids, previous=previous)
    assert match.mapping[2] == 4
    assert {match.mapping[0], match.mapping[1]} & {9} == {9}
    assert match.new_ids == [10]  # max old id + 1
    names = inherit_names(
        match, {4: "Champions", 9: "Hibernating"}, {0: "Lost", 1: "Lost", 2: "X"}
    )
    assert names[4] == "Champions" and names[9] == "Hibernating"
    assert names[10] == "Lost"


def test_weak_overlap_is_not_matched() -> None:
    ids = list(range(10))
    previous = dict(zip(ids, [1] * 10, strict=True))
    new = np.array([0] * 1 + [5] * 9)
    match = match_segments(new, customer_ids=ids, previous=previous, min_jaccard=0.5)
    assert match.mapping == {0: 2, 5: 1}


def test_centroid_matching_in_the_same_space() -> None:
    prev = {10: np.array([0.0, 0.0]), 20: np.array([5.0, 5.0])}
    new = np.array([[5.1, 4.9], [0.2, -0.1], [20.0, 20.0]])
    labels = np.array([0, 1, 2, 2])
    match = match_segments(labels, prev_centroids=prev, new_centroids=new, max_distance=2.0)
    assert match.mapping == {0: 20, 1: 10, 2: 21}


def test_centroid_matching_via_the_new_models_space() -> None:
    df = blobs()
    old = fit_segmentation(df, numeric=["a", "b"], config=TrainConfig(**FAST))
    new = fit_segmentation(
        df.sample(frac=0.7, random_state=2), numeric=["a", "b"], config=TrainConfig(**FAST)
    )
    prev = member_centroids(new.model.transform, df, old.labels + 100)
    match = match_segments(new.labels, prev_centroids=prev, new_centroids=new.model.centroids)
    ids = pd.Series(match.apply(new.labels), index=new.customer_ids)
    before = pd.Series(old.labels + 100, index=old.customer_ids)
    assert (ids == before.loc[ids.index]).all()


def test_first_run_keeps_labels() -> None:
    match = match_segments(np.array([1, 0, 2]))
    assert match.mapping == {0: 0, 1: 1, 2: 2}
