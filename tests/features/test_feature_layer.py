"""Hand-written rows -> expected features, one scenario that exercises every feature."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest
from feature_warehouse import SQL_DIR, Warehouse, relation_of

from segments.core.sql import materialization, model_order
from segments.features.sets import FEATURE_PARAMS_DEFAULTS, FEATURE_SETS, feature_params

AS_OF = date(2011, 7, 1)
MONTH_DAYS = 365.25 / 12

LINES = [
    # "multi": four purchase invoices on three days (two on 2011-03-10), then a return
    {
        "customer": "multi",
        "invoice": "1",
        "at": "2011-01-10 09:00",
        "qty": 2,
        "price": 5,
        "product": "P1",
    },
    {
        "customer": "multi",
        "invoice": "1",
        "at": "2011-01-10 09:00",
        "qty": 1,
        "price": 20,
        "product": "P2",
    },
    {
        "customer": "multi",
        "invoice": "2",
        "at": "2011-03-10 10:00",
        "qty": 1,
        "price": 50,
        "product": "P3",
    },
    {
        "customer": "multi",
        "invoice": "3",
        "at": "2011-03-10 16:00",
        "qty": 1,
        "price": 5,
        "product": "P1",
    },
    {
        "customer": "multi",
        "invoice": "4",
        "at": "2011-06-20 12:00",
        "qty": 3,
        "price": 20,
        "product": "P2",
    },
    {
        "customer": "multi",
        "invoice": "C5",
        "at": "2011-06-25 12:00",
        "qty": -1,
        "price": 20,
        "product": "P2",
    },
    # "multi" after as_of: must change nothing
    {
        "customer": "multi",
        "invoice": "6",
        "at": "2011-07-01 00:00",
        "qty": 9,
        "price": 99,
        "product": "P9",
    },
    # "single": one purchase one minute before as_of
    {"customer": "single", "invoice": "10", "at": "2011-06-30 23:59", "qty": 1, "price": 8},
    # "future": only lines on and after as_of -> not in the features
    {"customer": "future", "invoice": "20", "at": "2011-07-01 00:00", "qty": 1, "price": 8},
    {"customer": "future", "invoice": "21", "at": "2011-08-01 00:00", "qty": 1, "price": 8},
    # "returns_only": a return but no purchase before as_of -> not in the features
    {"customer": "returns_only", "invoice": "C30", "at": "2011-05-01", "qty": -1, "price": 8},
    # "net_negative": returns goods bought before the data starts: net revenue below zero
    {"customer": "net_negative", "invoice": "40", "at": "2011-02-01", "qty": 1, "price": 10},
    {"customer": "net_negative", "invoice": "C41", "at": "2011-02-02", "qty": -3, "price": 10},
    # a guest line (no customer) is never a customer
    {"customer": None, "invoice": "50", "at": "2011-06-01", "qty": 1, "price": 8},
]
CUSTOMERS = [
    {
        "customer": "multi",
        "gender": "female",
        "birth_date": date(1980, 7, 2),
        "age": 99,
        "income": 50_000.0,
        "score": 70,
        "country": "France",
    },
    {"customer": "single", "gender": "male", "age": 44, "income": 20_000.0},
]
EVENTS = [
    {"customer": "multi", "session": "s1", "type": "view", "at": "2011-06-28 10:00"},
    {"customer": "multi", "session": "s1", "type": "cart", "at": "2011-06-28 10:01"},
    {"customer": "multi", "session": "s1", "type": "purchase", "at": "2011-06-28 10:02"},
    {"customer": "multi", "session": "s2", "type": "cart", "at": "2011-05-01 10:00"},
    {"customer": "multi", "session": "s3", "type": "cart", "at": "2011-01-01 10:00"},  # > 90d
    {"customer": "multi", "session": "s4", "type": "view", "at": "2011-07-01 00:00"},  # as_of
]


@pytest.fixture
def features(wh: Warehouse) -> pd.DataFrame:
    wh.lines(LINES)
    wh.customers(CUSTOMERS)
    wh.events(EVENTS)
    return wh.features(AS_OF)


def test_population_is_purchasers_before_as_of(features: pd.DataFrame) -> None:
    assert sorted(features.index) == ["multi", "net_negative", "single"]
    assert (features["as_of"] == pd.Timestamp(AS_OF)).all()


def test_recency_frequency_monetary(features: pd.DataFrame) -> None:
    multi = features.loc["multi"]
    assert multi.recency_days == (AS_OF - date(2011, 6, 20)).days  # the return is no purchase
    assert multi.frequency == 4  # distinct purchase invoices; C5 is a return
    assert multi.monetary == pytest.approx(30 + 50 + 5 + 60 - 20)
    assert multi.avg_order_value == pytest.approx(125 / 4)
    assert multi.tenure_days == (AS_OF - date(2011, 1, 10)).days
    assert multi.purchases_per_month == pytest.approx(4 / (172 / MONTH_DAYS))
    assert multi.return_rate == pytest.approx(20 / 145)
    assert multi.distinct_products == 3


def test_single_purchase_customer(features: pd.DataFrame) -> None:
    single = features.loc["single"]
    assert (single.recency_days, single.frequency, single.tenure_days) == (1, 1, 1)
    assert single.monetary == pytest.approx(8)
    # a tenure under a month counts as one month
    assert single.purchases_per_month == pytest.approx(1.0)
    assert math.isnan(single.mean_days_between_purchases)
    assert math.isnan(single.std_days_between_purchases)
    assert (single.lt_frequency, single.lt_recency_days, single.lt_t_days) == (0, 0, 0)
    assert single.lt_monetary == 0.0


def test_returns_exceeding_purchases(features: pd.DataFrame) -> None:
    row = features.loc["net_negative"]
    assert row.monetary == pytest.approx(-20)
    assert row.historical_clv == pytest.approx(-20)
    assert row.return_rate == 1.0  # capped: returned 30 of 10 bought
    assert row.predicted_clv == 0.0  # never negative


def test_purchase_cadence(features: pd.DataFrame) -> None:
    multi = features.loc["multi"]
    gaps = [59, 102]  # purchase days 01-10, 03-10, 06-20 (two invoices on 03-10 = one day)
    assert multi.mean_days_between_purchases == pytest.approx(sum(gaps) / 2)
    assert multi.std_days_between_purchases == pytest.approx(pd.Series(gaps).std())


def test_revenue_windows_and_trend(features: pd.DataFrame) -> None:
    multi = features.loc["multi"]
    assert multi.revenue_30d == pytest.approx(60 - 20)
    assert multi.revenue_90d == pytest.approx(60 - 20)
    assert multi.revenue_365d == pytest.approx(125)
    prior = 30 + 50 + 5  # 2011-01-02 .. 2011-04-01
    assert multi.revenue_trend_qoq == pytest.approx((40 - prior) / (40 + prior))
    single = features.loc["single"]
    assert single.revenue_trend_qoq == 1.0  # all revenue is new


def test_web_activity(features: pd.DataFrame) -> None:
    multi = features.loc["multi"]
    assert multi.days_since_last_visit == 3  # 06-28; the as_of event is not seen
    assert multi.sessions_90d == 2  # s1, s2; s3 is older than 90 days
    assert multi.cart_to_purchase_90d == pytest.approx(0.5)  # s1 converted, s2 did not
    assert pd.isna(features.loc["single"].days_since_last_visit)
    assert pd.isna(features.loc["single"].cart_to_purchase_90d)


def test_demographics(features: pd.DataFrame) -> None:
    multi = features.loc["multi"]
    assert multi.age_years == 30  # born 1980-07-02: 31 only the day after as_of
    assert (multi.gender, multi.annual_income, multi.spending_score) == (
        "female",
        50_000.0,
        70,
    )
    assert multi.country == "France"  # the customer record wins over the invoice country
    single = features.loc["single"]
    assert single.age_years == 44  # no birth date: the loaded age
    assert single.country == "United Kingdom"  # no country on record: last purchase's


def test_lifetimes_summary(features: pd.DataFrame) -> None:
    multi = features.loc["multi"]
    assert multi.lt_frequency == 2  # three purchase days
    assert multi.lt_recency_days == (date(2011, 6, 20) - date(2011, 1, 10)).days
    assert multi.lt_t_days == (date(2011, 6, 30) - date(2011, 1, 10)).days  # to as_of - 1
    assert multi.lt_monetary == pytest.approx((55 + 60) / 2)  # gross value of repeat days


def test_value(features: pd.DataFrame) -> None:
    multi = features.loc["multi"]
    assert multi.historical_clv == pytest.approx(125)
    expected = (125 / 4) * (4 / (172 / MONTH_DAYS)) * 24 * 0.3
    assert multi.predicted_clv == pytest.approx(expected)


def test_predicted_clv_takes_its_assumptions_as_parameters(wh: Warehouse) -> None:
    wh.lines(LINES)
    base = wh.features(AS_OF)
    doubled = wh.features(AS_OF, margin=0.6)
    pd.testing.assert_series_equal(doubled.predicted_clv, 2 * base.predicted_clv)


def test_nothing_on_or_after_as_of_leaks(wh: Warehouse) -> None:
    before = [line for line in LINES if line["at"] < "2011-07-01"]
    wh.lines(before)
    wh.events([e for e in EVENTS if e["at"] < "2011-07-01"])
    wh.build(AS_OF)
    # the per-customer aggregates hold every line (they are not cut at a date); every
    # point-in-time model built from them must be exactly as before
    tables = [
        t
        for t in model_order(SQL_DIR, "features")
        if materialization((SQL_DIR / "features" / f"{t}.sql").read_text()) != "incremental"
    ]
    expected = {t: wh.con.execute(f"select * from {relation_of(t)}").df() for t in tables}
    # everything that happens from as_of on: new lines, returns, events, new customers
    wh.lines(
        [
            {"customer": "multi", "invoice": "90", "at": "2011-07-01 00:00", "qty": 5, "price": 3},
            {"customer": "multi", "invoice": "C91", "at": "2011-07-02", "qty": -5, "price": 3},
            {"customer": "single", "invoice": "92", "at": "2012-01-01", "qty": 1, "price": 1},
            {
                "customer": "newbie",
                "invoice": "93",
                "at": "2011-07-01 00:00",
                "qty": 1,
                "price": 1,
            },
        ]
    )
    wh.events([{"customer": "multi", "session": "s9", "type": "cart", "at": "2011-07-01"}])
    wh.build(AS_OF)
    for table in tables:
        actual = wh.con.execute(f"select * from {relation_of(table)}").df()
        key = [c for c in ("customer_id", "invoice_id", "purchase_date") if c in actual]
        pd.testing.assert_frame_equal(
            actual.sort_values(key).reset_index(drop=True),
            expected[table].sort_values(key).reset_index(drop=True),
            obj=table,
        )


def test_empty_warehouse_builds_empty_features(wh: Warehouse) -> None:
    counts = wh.build(AS_OF)
    assert counts["customer_features"] == 0


def test_demographic_feature_set_without_transactions(wh: Warehouse) -> None:
    wh.customers(
        [
            {"customer": "0001", "gender": "male", "age": 19, "income": 15_000.0, "score": 39},
            {"customer": "0002", "gender": "female", "age": 21, "income": 15_000.0, "score": 81},
            {"customer": "late", "gender": "female", "age": 30, "signup": date(2011, 7, 1)},
        ]
    )
    wh.build(AS_OF)
    demo = wh.frame("features.customer_features_demographic")
    assert list(demo.index) == ["0001", "0002"]  # signed up on as_of: not known yet
    assert demo.loc["0002"].spending_score == 81
    assert wh.frame("features.customer_features").empty


@pytest.mark.parametrize("name", sorted(FEATURE_SETS))
def test_feature_sets_name_real_columns(features: pd.DataFrame, wh: Warehouse, name: str) -> None:
    feature_set = FEATURE_SETS[name]
    columns = wh.con.execute(f"select * from {feature_set.relation} limit 0").df().columns
    assert set(feature_set.columns) <= set(columns)
    assert set(feature_set.skewed) <= set(feature_set.numeric)


def test_feature_params_cover_every_sql_parameter() -> None:
    from segments.core.sql import used_params

    needed = set().union(
        *(used_params(p.read_text()) for p in (SQL_DIR / "features").glob("*.sql"))
    )
    assert needed == set(feature_params(AS_OF)) == {"as_of", *FEATURE_PARAMS_DEFAULTS}
