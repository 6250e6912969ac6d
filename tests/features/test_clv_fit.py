"""Probabilistic CLV: published CDNOW estimates, agreement with lifetimes, edge cases."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feature_warehouse import Warehouse
from lifetimes import BetaGeoFitter, GammaGammaFitter

from segments.features.clv import (
    BgNbdParams,
    expected_purchases,
    fit_bgnbd,
    fit_clv,
    probability_alive,
)

CDNOW = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "cdnow_customers_summary_with_transactions.csv"
)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The CDNOW sample in the shape of features.customer_features (time in weeks)."""
    raw = pd.read_csv(CDNOW)
    return pd.DataFrame(
        {
            "customer_id": raw["ID"].astype(str),
            "lt_frequency": raw["x"],
            "lt_recency_days": raw["t_x"],
            "lt_t_days": raw["T"],
            "lt_monetary": raw["zbar"],
        }
    )


@pytest.fixture(scope="module")
def cdnow_fit(cdnow: pd.DataFrame):
    return fit_clv(cdnow, horizon_months=12, monthly_discount_rate=0.01)


def test_bgnbd_matches_published_cdnow_estimates(cdnow_fit) -> None:
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), section 4
    params = cdnow_fit.bgnbd
    assert (
        round(params.r, 3),
        round(params.alpha, 3),
        round(params.a, 3),
        round(params.b, 3),
    ) == (0.243, 4.414, 0.793, 2.426)
    assert params.log_likelihood == pytest.approx(-9582.4, abs=0.05)


def test_gamma_gamma_matches_published_cdnow_estimates(cdnow_fit) -> None:
    # Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value": p=6.25, q=3.74,
    # v=15.44, to two decimals (our v is 15.448, as lifetimes' fit: zbar in the file is
    # rounded to cents), so agree within 0.01
    params = cdnow_fit.gamma_gamma
    assert params.p == pytest.approx(6.25, abs=0.01)
    assert params.q == pytest.approx(3.74, abs=0.01)
    assert params.v == pytest.approx(15.44, abs=0.01)


def test_predictions_agree_with_lifetimes(cdnow: pd.DataFrame, cdnow_fit) -> None:
    x, t_x, t = cdnow["lt_frequency"], cdnow["lt_recency_days"], cdnow["lt_t_days"]
    m = cdnow["lt_monetary"]
    bgf = BetaGeoFitter().fit(x, t_x, t)
    repeat = x > 0
    ggf = GammaGammaFitter().fit(x[repeat], m[repeat])
    ours = cdnow_fit.customers
    # same model, two optimisers: parameters agree to ~1e-5, predictions to ~1e-4
    tolerance = {"rel": 1e-3, "abs": 1e-6}
    assert ours["p_alive"].to_numpy() == pytest.approx(
        np.asarray(bgf.conditional_probability_alive(x, t_x, t)), **tolerance
    )
    # 12 "months" of 30 time units, as lifetimes' customer_lifetime_value counts for freq="D"
    assert ours["expected_purchases_horizon"].to_numpy() == pytest.approx(
        np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(360, x, t_x, t)),
        **tolerance,
    )
    assert ours["expected_avg_value"].to_numpy() == pytest.approx(
        np.asarray(ggf.conditional_expected_average_profit(x, m)), **tolerance
    )
    clv = ggf.customer_lifetime_value(bgf, x, t_x, t, m, time=12, discount_rate=0.01, freq="D")
    assert ours["clv"].to_numpy() == pytest.approx(np.asarray(clv), **tolerance)


def test_output_shape_and_ranges(cdnow: pd.DataFrame, cdnow_fit) -> None:
    ours = cdnow_fit.customers
    assert list(ours.columns) == [
        "customer_id",
        "expected_purchases_horizon",
        "p_alive",
        "expected_avg_value",
        "clv",
    ]
    assert list(ours["customer_id"]) == list(cdnow["customer_id"])
    assert ours.notna().all().all()
    assert ((ours["p_alive"] > 0) & (ours["p_alive"] <= 1)).all()
    assert (ours.loc[cdnow["lt_frequency"] == 0, "p_alive"] == 1.0).all()
    assert (ours["clv"] >= 0).all()


def test_discounting_lowers_clv(cdnow: pd.DataFrame, cdnow_fit) -> None:
    undiscounted = fit_clv(cdnow, horizon_months=12, monthly_discount_rate=0.0).customers
    assert (undiscounted["clv"] >= cdnow_fit.customers["clv"]).all()


def test_recent_repeat_buyers_are_more_alive() -> None:
    params = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0.0)
    x, t = np.array([3.0, 3.0]), np.array([40.0, 40.0])
    recency = np.array([39.0, 5.0])
    alive = probability_alive(params, x, recency, t)
    assert alive[0] > alive[1]
    assert (
        expected_purchases(params, 52, x, recency, t)[0]
        > expected_purchases(params, 52, x, recency, t)[1]
    )


def test_fit_is_deterministic(cdnow: pd.DataFrame) -> None:
    first = fit_bgnbd(cdnow["lt_frequency"], cdnow["lt_recency_days"], cdnow["lt_t_days"])
    second = fit_bgnbd(cdnow["lt_frequency"], cdnow["lt_recency_days"], cdnow["lt_t_days"])
    assert first == second


def test_no_repeat_buyers_is_a_clear_error() -> None:
    summary = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "lt_frequency": [0, 0],
            "lt_recency_days": [0, 0],
            "lt_t_days": [5, 9],
            "lt_monetary": [0.0, 0.0],
        }
    )
    with pytest.raises(ValueError, match="repeat buyer"):
        fit_clv(summary)


def test_too_few_repeat_buyers_falls_back_to_mean_spend(cdnow: pd.DataFrame) -> None:
    summary = cdnow.copy()
    repeat = summary.index[summary["lt_frequency"] > 0]
    summary.loc[repeat[5:], "lt_monetary"] = 0.0  # only 5 repeat buyers with spend left
    fit = fit_clv(summary)
    assert fit.gamma_gamma is None
    expected = summary.loc[repeat[:5], "lt_monetary"].mean()
    assert fit.customers["expected_avg_value"].to_numpy() == pytest.approx(expected)


def test_fit_clv_reads_the_feature_table(wh: Warehouse) -> None:
    # 60 customers buying every k days from a staggered start: enough repeat buyers to fit
    rng = np.random.default_rng(7)
    start, as_of = date(2011, 1, 1), date(2011, 12, 1)
    lines = []
    for c in range(60):
        first = start + timedelta(days=int(rng.integers(0, 200)))
        every = int(rng.integers(7, 90))
        stop = first + timedelta(days=int(rng.integers(0, 330)))
        day, n = first, 0
        while day < min(stop, as_of):
            lines.append(
                {
                    "customer": f"c{c}",
                    "invoice": f"{c}-{n}",
                    "at": day,
                    "price": float(rng.integers(5, 50)),
                }
            )
            day, n = day + timedelta(days=every), n + 1
    wh.lines(lines)
    features = wh.features(as_of).reset_index()
    fit = fit_clv(features, horizon_months=6)
    assert len(fit.customers) == len(features)
    assert fit.customers[["p_alive", "clv"]].notna().all().all()


def test_a_sampled_fit_predicts_every_customer_close_to_the_full_fit(
    cdnow: pd.DataFrame, cdnow_fit
) -> None:
    """Backtest cutoffs fit the parameters on a seeded sample (snapshots.CLV_FIT_SAMPLE)."""
    sampled = fit_clv(cdnow, horizon_months=12, monthly_discount_rate=0.01, fit_sample=1_500)
    assert len(sampled.customers) == len(cdnow)
    assert sampled.bgnbd != cdnow_fit.bgnbd  # fitted on fewer customers ...
    full, part = cdnow_fit.customers, sampled.customers
    for col in ("p_alive", "expected_purchases_horizon"):  # ... predicting much the same
        assert np.corrcoef(full[col], part[col])[0, 1] > 0.99
    assert np.abs(full["p_alive"] - part["p_alive"]).max() < 0.1
    # the sample is drawn in value order: row order and ids do not change it
    shuffled = cdnow.sample(frac=1.0, random_state=3).assign(
        customer_id=lambda f: "x" + f.index.astype(str)
    )
    again = fit_clv(shuffled, horizon_months=12, monthly_discount_rate=0.01, fit_sample=1_500)
    assert again.bgnbd == sampled.bgnbd
