"""Segment profiles and names: RFM and demographic vocabularies, uniqueness, revenue share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segments.models import profile_segments
from segments.models.naming import fmt_value, name_segment, unique_names
from segments.models.profiles import rank_score


@pytest.mark.parametrize(
    ("z", "name", "action"),
    [
        ({"recency_days": -1, "frequency": 1, "monetary": 1}, "Champions", "reward"),
        ({"recency_days": -1, "frequency": 1, "monetary": 0}, "Loyal customers", "retain"),
        ({"recency_days": -1, "frequency": -1, "tenure_days": -1}, "New customers", "nurture"),
        (
            {"recency_days": 1, "frequency": 0, "monetary": 2},
            "At risk high spenders",
            "win back",
        ),
        ({"recency_days": 1, "frequency": -1, "monetary": -1}, "Hibernating", "reactivate"),
        ({"recency_days": 0, "frequency": 0, "monetary": 2}, "Big spenders", "reward"),
        ({"recency_days": 0, "frequency": -1, "monetary": 0}, "Occasional buyers", "nurture"),
        (
            {"recency_days": 0, "frequency": 0, "tenure_days": 1},
            "Long-standing customers",
            "retain",
        ),
        ({"annual_income": 1, "spending_score": -1}, "High income, low spend", "nurture"),
        ({"annual_income": 1, "spending_score": 1}, "High income, high spend", "reward"),
        (
            {"age_years": -1, "spending_score": 1, "annual_income": 0},
            "Young high spenders",
            "retain",
        ),
        ({"basket_size": 2, "tenure": -1}, "High basket size, low tenure", "nurture"),
    ],
)
def test_names_from_standard_features(z: dict, name: str, action: str) -> None:
    assert name_segment(z) == (name, action)


def test_net_returners_and_money_formatting() -> None:
    assert name_segment({"recency_days": -1, "monetary": 1}, net_negative=True)[0] == (
        "Net returners"
    )
    assert fmt_value("monetary", -1234.4) == "-1,234"
    assert fmt_value("monetary", -0.2) == "0"
    assert fmt_value("basket_size", 0.12345) == "0.123"


def test_rank_score_is_robust_to_a_whale() -> None:
    population = np.array([1.0] * 50 + [2.0] * 45 + [1e6] * 5)
    assert rank_score(population, 2.0) > 0.5  # above most customers, despite the whale mean
    assert rank_score(population, 1.0) < -0.5
    assert rank_score(population, 1e9) == pytest.approx(2.576, abs=0.01)


def test_duplicate_names_are_disambiguated_deterministically() -> None:
    names = {0: "Hibernating", 1: "Hibernating", 2: "Hibernating", 3: "Champions"}
    sizes = {0: 50, 1: 80, 2: 80, 3: 10}
    z = {
        0: {"recency_days": 1.0, "monetary": -1.0},
        1: {"recency_days": 1.0, "monetary": -0.6},
        2: {"recency_days": 2.5, "monetary": -0.6},
        3: {"recency_days": -1.0, "monetary": 1.0},
    }
    out = unique_names(names, sizes, z)
    assert out[1] == "Hibernating"  # largest (then lowest id) keeps the plain name
    assert out[2] == "Hibernating (higher days since last purchase)"
    assert out[0] == "Hibernating (lower spend)"
    assert len(set(out.values())) == 4
    assert unique_names(names, sizes, z) == out


def test_profile_table_on_rfm_like_data() -> None:
    rng = np.random.default_rng(0)
    n = 300
    labels = np.repeat([0, 1, 2], n // 3)
    df = pd.DataFrame(
        {
            "recency_days": np.select([labels == 0, labels == 1], [5, 300], 60)
            + rng.integers(0, 5, n),
            "frequency": np.select([labels == 0, labels == 1], [20, 1], 4) + rng.integers(0, 2, n),
            "monetary": np.select([labels == 0, labels == 1], [5000, 40], 400)
            + rng.normal(0, 5, n),
        }
    )
    profiles = profile_segments(df, labels, features=list(df.columns))
    summary = profiles.summary.set_index("segment_id")
    assert summary.loc[0, "name"] == "Champions" and summary.loc[0, "action"] == "reward"
    assert summary.loc[1, "name"] == "Hibernating" or summary.loc[1, "name"] == "Lost customers"
    assert summary["name"].is_unique
    assert summary["share"].sum() == pytest.approx(1.0)
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
    assert summary.loc[0, "revenue_share"] > 0.8
    assert "of revenue" in summary.loc[0, "description"]
    assert summary.loc[0, "top_features"].split(" ")[0] in df.columns
    stats = profiles.features
    assert set(stats.columns) >= {"segment_id", "feature", "mean", "median", "z", "rank_score"}
    assert len(stats) == 3 * 3


def _population(seed: int, n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers with skewed RFM and tenure, cut into segments along a random direction."""
    rng = np.random.default_rng(seed)
    recency = rng.exponential(rng.uniform(30, 300), n).round() + 1
    tenure = recency + rng.exponential(rng.uniform(20, 600), n).round()
    frequency = 1 + rng.geometric(rng.uniform(0.2, 0.9), n) - 1
    monetary = frequency * rng.lognormal(rng.uniform(2, 5), 1.0, n)
    monetary[rng.random(n) < 0.03] *= -0.2  # a few net returners
    df = pd.DataFrame(
        {
            "recency_days": recency,
            "frequency": frequency,
            "monetary": monetary,
            "tenure_days": tenure,
        }
    )
    ranks = df.rank(pct=True).to_numpy()
    score = ranks @ rng.normal(size=4) + rng.normal(0, 0.1, n)
    k = int(rng.integers(3, 8))
    labels = np.searchsorted(np.quantile(score, np.linspace(0, 1, k + 1)[1:-1]), score)
    return df, labels


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_every_name_is_true_in_its_segment_numbers(seed: int) -> None:
    from segments.models.naming import name_violations

    df, labels = _population(seed)
    profiles = profile_segments(df, labels)
    stats = profiles.features
    population = stats.drop_duplicates("feature").set_index("feature")["population_median"]
    for row in profiles.summary.itertuples():
        medians = stats[stats["segment_id"] == row.segment_id].set_index("feature")["median"]
        assert name_violations(row.name, medians.to_dict(), population.to_dict()) == []


def test_a_segment_last_seen_295_days_ago_is_not_new() -> None:
    """The demo's old bug: low tenure by rank among long-standing customers read as new."""
    rng = np.random.default_rng(1)
    old = pd.DataFrame(  # most customers have bought for years
        {
            "recency_days": rng.integers(5, 200, 900),
            "frequency": rng.integers(2, 20, 900),
            "monetary": rng.uniform(100, 5000, 900),
            "tenure_days": rng.integers(700, 1500, 900),
        }
    )
    lapsed = pd.DataFrame(  # one order about ten months ago
        {
            "recency_days": rng.integers(280, 310, 100),
            "frequency": 1,
            "monetary": rng.uniform(20, 60, 100),
            "tenure_days": rng.integers(280, 310, 100),
        }
    )
    df = pd.concat([old, lapsed], ignore_index=True)
    labels = np.r_[np.zeros(900, dtype=int), np.ones(100, dtype=int)]
    name = profile_segments(df, labels).summary.set_index("segment_id").at[1, "name"]
    assert name != "New customers" and name in {"Hibernating", "Lost customers"}
    fresh = lapsed.assign(
        recency_days=rng.integers(3, 40, 100), tenure_days=rng.integers(40, 80, 100)
    )
    df = pd.concat([old, fresh], ignore_index=True)
    assert profile_segments(df, labels).summary.set_index("segment_id").at[1, "name"] == (
        "New customers"
    )
