"""Reference check on the public Mall Customers data: K-means over 3-8 must pick k=5."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segments.models import TrainConfig, embed_segments, fit_segmentation, profile_segments

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mall_customers.csv"
FEATURES = ["annual_income", "spending_score"]


@pytest.fixture(scope="module")
def mall() -> pd.DataFrame:
    """The 200-row fixture with pipeline-style column names (income k$ -> units)."""
    df = pd.read_csv(FIXTURE, dtype={"CustomerID": str})
    df = df.rename(
        columns={
            "CustomerID": "customer_id",
            "Age": "age_years",
            "Annual Income (k$)": "annual_income",
            "Spending Score (1-100)": "spending_score",
        }
    )
    return df.assign(annual_income=df["annual_income"] * 1000.0)


@pytest.fixture(scope="module")
def result(mall: pd.DataFrame):
    """Income + spending score, numeric (no log), standard-scaled, K-means over k=3..8."""
    config = TrainConfig(k_min=3, k_max=8, capping="none", threads=1)
    return fit_segmentation(mall, numeric=FEATURES, config=config)


def test_kmeans_chooses_five_segments(result) -> None:
    chosen = result.candidates[result.candidates["chosen"]].iloc[0]
    assert result.model.k == 5 and chosen["k"] == 5
    assert 0.53 <= chosen["silhouette"] <= 0.57
    assert result.elbow_k == 5
    assert chosen["stability"] >= 0.9
    assert result.passed_gates
    # silhouette alone would not be enough to trust: the composite agrees on every metric
    table = result.candidates.set_index("k")
    assert table["davies_bouldin"].idxmin() == 5


def test_mall_segments_get_the_textbook_names(mall: pd.DataFrame, result) -> None:
    profiles = profile_segments(mall, result.labels, features=FEATURES, revenue_column=None)
    assert set(profiles.summary["name"]) == {
        "Average income, average spend",
        "High income, high spend",
        "High income, low spend",
        "Low income, high spend",
        "Low income, low spend",
    }
    by_name = profiles.summary.set_index("name")
    assert by_name.loc["High income, low spend", "action"] == "nurture"
    assert by_name.loc["Average income, average spend", "size"] == 81


def test_embeddings_are_seeded_2d_frames(mall: pd.DataFrame, result) -> None:
    X = result.model.transform(mall)
    kwargs = {"tsne_sample": 80, "tsne_iterations": 250, "threads": 1, "seed": 3}
    first = embed_segments(X, result.labels, result.customer_ids, **kwargs)
    again = embed_segments(X, result.labels, result.customer_ids, **kwargs)
    assert list(first.pca.columns) == ["customer_id", "segment_id", "x", "y"]
    assert len(first.pca) == 200 and len(first.tsne) == 80
    assert first.tsne["customer_id"].is_unique
    assert sum(first.explained_variance) == pytest.approx(1.0)
    pd.testing.assert_frame_equal(first.tsne, again.tsne)
    assert np.isfinite(first.tsne[["x", "y"]].to_numpy()).all()
