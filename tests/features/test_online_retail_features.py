"""Full UCI Online Retail as of 2011-12-10: the feature layer against lifetimes, every customer."""

from __future__ import annotations

import time
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from feature_warehouse import Warehouse, new_warehouse
from lifetimes.utils import summary_data_from_transaction_data

from bench.online_retail_models import LOAD, ONLINE_RETAIL
from segments.features.clv import fit_clv

AS_OF = date(2011, 12, 10)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason=f"{ONLINE_RETAIL} not present"),
]

# A minimal typed load straight into staging (the real ingest lives in segments/ingest/files.py):
# customer_id is the integer id as text ("17850.0" -> "17850"), cancellations start with C.


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    wh = new_warehouse(tmp_path_factory.mktemp("online_retail") / "warehouse.duckdb")
    started = time.perf_counter()
    wh.con.execute(LOAD, {"path": str(ONLINE_RETAIL)})
    loaded = time.perf_counter()
    wh.build(AS_OF)
    built = time.perf_counter()
    print(f"\nonline retail: load {loaded - started:.2f}s, features {built - loaded:.2f}s")
    return wh


def test_load_matches_the_published_counts(retail: Warehouse) -> None:
    lines, revenue, customers = retail.con.execute(
        "select count(*), sum(line_revenue), count(distinct customer_id) "
        "from staging.stg_transactions"
    ).fetchone()
    assert (lines, customers) == (541_909, 4_372)
    assert revenue == pytest.approx(9_747_747.93, abs=0.01)


def test_lifetimes_summary_agrees_for_every_customer(retail: Warehouse) -> None:
    features = retail.frame("features.customer_features")
    # lifetimes sees what feat_customer_lifetimes sees: purchase lines (no cancellation, no
    # negative quantity) of known customers before as_of, valued at quantity x price
    purchases = retail.con.execute(
        "select customer_id, invoiced_at, line_revenue from staging.stg_transactions "
        "where customer_id is not null and not is_cancellation and quantity > 0 "
        "and invoiced_at < $as_of",
        {"as_of": AS_OF},
    ).df()
    started = time.perf_counter()
    expected = summary_data_from_transaction_data(
        purchases,
        "customer_id",
        "invoiced_at",
        "line_revenue",
        observation_period_end=pd.Timestamp(AS_OF - timedelta(days=1)),
        freq="D",
    ).sort_index()
    print(f"\nlifetimes summary: {time.perf_counter() - started:.2f}s")
    assert len(features) == 4_339  # customers with a purchase (the usual figure for this data)
    assert list(features.index) == list(expected.index)
    for ours, theirs in (
        ("lt_frequency", "frequency"),
        ("lt_recency_days", "recency"),
        ("lt_t_days", "T"),
        ("lt_monetary", "monetary_value"),
    ):
        difference = np.abs(features[ours].astype(float) - expected[theirs]).max()
        assert difference <= 1e-6, (ours, difference)


def test_features_are_complete_and_consistent(retail: Warehouse) -> None:
    features = retail.frame("features.customer_features")
    always = [
        "recency_days",
        "frequency",
        "monetary",
        "tenure_days",
        "distinct_products",
        "r_score",
        "f_score",
        "m_score",
        "rfm_segment",
        "historical_clv",
        "predicted_clv",
        "lt_frequency",
        "lt_t_days",
        "country",
    ]
    assert features[always].notna().all().all()
    assert (features["recency_days"] >= 1).all()
    assert (features["lt_t_days"] == features["tenure_days"] - 1).all()
    assert features["rfm_segment"].nunique() == 11
    # every purchaser is in every per-customer model
    counts = retail.con.execute(
        "select (select count(*) from temp.main.feat_customer_rfm), "
        "(select count(*) from temp.main.feat_customer_lifetimes)"
    ).fetchone()
    assert counts == (len(features), len(features))


def test_probabilistic_clv_fits_the_features(retail: Warehouse) -> None:
    summary = retail.frame("features.customer_features").reset_index()
    fit = fit_clv(summary, horizon_months=12, monthly_discount_rate=0.01)
    assert fit.gamma_gamma is not None
    assert np.isfinite([fit.bgnbd.r, fit.bgnbd.alpha, fit.bgnbd.a, fit.bgnbd.b]).all()
    assert fit.customers[["p_alive", "clv"]].notna().all().all()
