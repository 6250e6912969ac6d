"""Phase 1: K-means path end to end on synthetic blobs (fast, deterministic)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segments.models import (
    InsufficientDataError,
    SegmentModel,
    TrainConfig,
    check_sufficiency,
    fit_segmentation,
    select,
)

FAST = {"n_init": 4, "bootstrap_rounds": 3, "threads": 1}


CENTERS = np.array([[0, 0], [10, 0], [0, 10], [10, 10], [5, 18]], dtype=float)


def blobs(n: int = 400, centers: int = 4, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Well separated blobs (fixed centres) with string customer ids."""
    X, y = make_blobs(n_samples=n, centers=CENTERS[:centers], cluster_std=0.8, random_state=seed)
    df = pd.DataFrame(X, columns=["a", "b"])
    df.insert(0, "customer_id", [f"c{i:05d}" for i in range(n)])
    return df, y


@pytest.mark.parametrize("centers", [4, 5])
def test_blobs_choose_true_k_with_high_stability(centers: int) -> None:
    df, y = blobs(centers=centers, seed=centers)
    result = fit_segmentation(df, numeric=["a", "b"], config=TrainConfig(**FAST))
    chosen = result.candidates[result.candidates["chosen"]].iloc[0]
    assert result.model.k == centers
    assert result.elbow_k == centers
    assert chosen["stability"] > 0.9
    assert result.passed_gates and chosen["passed_gates"]
    assert adjusted_rand_score(y, result.labels) > 0.95
    assert "k=" + str(centers) in result.reason
    expected = {"algorithm", "params", "k", "silhouette", "davies_bouldin", "calinski_harabasz"}
    expected |= {"wcss", "bic", "noise_share", "smallest_share", "stability", "fit_seconds"}
    expected |= {"is_knee", "passed_gates", "chosen"}
    assert expected <= set(result.candidates.columns)
    assert result.candidates["chosen"].sum() == 1


def test_same_seed_same_labels_regardless_of_row_order() -> None:
    df, _ = blobs()
    config = TrainConfig(**FAST)
    first = fit_segmentation(df, numeric=["a", "b"], config=config)
    shuffled = df.sample(frac=1.0, random_state=7)
    second = fit_segmentation(shuffled, numeric=["a", "b"], config=config)
    by_id = dict(zip(second.customer_ids, second.labels, strict=True))
    assert [by_id[c] for c in first.customer_ids] == first.labels.tolist()
    assert first.model.checksum == second.model.checksum
    cols = ["k", "silhouette", "stability", "chosen"]
    pd.testing.assert_frame_equal(first.candidates[cols], second.candidates[cols])


def test_segments_do_not_depend_on_the_pseudonyms() -> None:
    """Another SEGMENTS_PII_KEY renames every customer; the segments must stay the same.

    Unstructured data on purpose: k-means' result there depends on which rows seed it.
    """
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.uniform(size=(300, 3)), columns=["a", "b", "c"])
    df.insert(0, "customer_id", [f"c{i:05d}" for i in range(len(df))])
    renamed = df.assign(customer_id=[f"x{j:05d}" for j in rng.permutation(len(df))])
    config = TrainConfig(**{**FAST, "n_init": 1})
    first = fit_segmentation(df, numeric=["a", "b", "c"], config=config)
    second = fit_segmentation(renamed, numeric=["a", "b", "c"], config=config)
    assert second.labels.tolist() == first.labels.tolist()  # same rows, same input order
    cols = ["algorithm", "k", "silhouette", "stability", "chosen"]
    pd.testing.assert_frame_equal(first.candidates[cols], second.candidates[cols])


def test_segments_are_numbered_by_size() -> None:
    df, _ = blobs()
    labels = fit_segmentation(df, numeric=["a", "b"], config=TrainConfig(**FAST)).labels
    sizes = np.bincount(labels)
    assert list(sizes) == sorted(sizes, reverse=True)


def test_save_load_round_trip_predicts_the_same(tmp_path) -> None:
    df, _ = blobs()
    result = fit_segmentation(df, numeric=["a", "b"], config=TrainConfig(**FAST))
    path = result.model.save(tmp_path / "models" / "model.joblib")
    loaded = SegmentModel.load(path)
    assert np.array_equal(loaded.predict(df), result.model.predict(df))
    assert np.array_equal(loaded.predict(df), result.labels)
    assert loaded.checksum == result.model.checksum and len(loaded.checksum) == 64


def test_preprocessing_handles_skew_negatives_missing_and_categories(tmp_path) -> None:
    rng = np.random.default_rng(1)
    df, _ = blobs(n=300)
    df["monetary"] = rng.lognormal(5, 1.5, len(df))
    df.loc[:4, "monetary"] = -20.0  # net returns
    df.loc[5:9, "a"] = np.nan
    df["country"] = rng.choice(["UK", "FR", None], len(df))
    result = fit_segmentation(
        df,
        numeric=["a", "b"],
        skewed=["monetary"],
        categorical=["country"],
        config=TrainConfig(**FAST, capping="zscore", pca_components=3),
    )
    assert result.model.centroids.shape[1] == 3
    unseen = df.head(3).assign(country="DE")
    assert result.model.predict(unseen).shape == (3,)
    loaded = SegmentModel.load(result.model.save(tmp_path / "m.joblib"))
    assert np.array_equal(loaded.predict(df), result.labels)


def test_tiny_segment_fails_the_share_gate() -> None:
    df, _ = blobs(n=400, centers=4)
    tiny = pd.DataFrame({"customer_id": [f"t{i}" for i in range(4)], "a": 5.0, "b": 5.0})
    df = pd.concat([df, tiny.assign(a=[4.8, 5.2, 5.0, 5.0])], ignore_index=True)
    result = fit_segmentation(df, numeric=["a", "b"], config=TrainConfig(**FAST, capping="none"))
    table = result.candidates.set_index("k")
    assert table.loc[5, "smallest_share"] == pytest.approx(4 / 404)
    assert not table.loc[5, "passed_gates"]
    assert "smallest segment 1.0% < 2.0%" in table.loc[5, "gate_failures"]
    assert result.model.k == 4 and result.passed_gates


def test_nothing_passes_still_chooses_and_says_so() -> None:
    table = pd.DataFrame(
        {
            "algorithm": ["kmeans", "kmeans"],
            "k": [3, 4],
            "silhouette": [0.5, 0.4],
            "davies_bouldin": [0.7, 0.8],
            "calinski_harabasz": [100.0, 90.0],
            "bic": [np.nan, np.nan],
            "noise_share": [0.0, 0.0],
            "smallest_share": [0.01, 0.005],
            "stability": [0.9, 0.9],
            "is_knee": [False, True],
        }
    )
    choice = select(table, TrainConfig())
    assert choice.passed_gates is False
    assert choice.index == 0
    assert "No candidate passed" in choice.reason


def test_sufficiency_error_says_what_is_missing() -> None:
    check_sufficiency(500, 365)
    check_sufficiency(500, None)  # cross-sectional sources have no history
    with pytest.raises(InsufficientDataError, match=r"30 customers .*at least 50") as err:
        check_sufficiency(30, 40)
    assert "40 days" in str(err.value) and "at least 90" in str(err.value)
    with pytest.raises(InsufficientDataError):
        fit_segmentation(blobs(n=3)[0], numeric=["a", "b"])
