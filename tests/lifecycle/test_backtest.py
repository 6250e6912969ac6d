"""Business backtest on hand-written rows: exact outcomes per segment and the summaries."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from segments.core.sql import apply_schema, run_layer, run_model
from segments.features.sets import feature_params
from segments.lifecycle.backtest import (
    backtest_assignments,
    backtest_window,
    features_as_of,
)
from segments.lifecycle.snapshots import outcome_arrays
from segments.models import outcome_scores

SQL_DIR = Path(__file__).resolve().parents[2] / "warehouse"
CUTOFF = date(2024, 4, 1)

# (customer, invoice, day, quantity, price); the window is [2024-04-01, 2024-05-01)
LINES = [
    ("a1", "I0", "2024-03-01", 1, 10.0),  # before the cutoff: not an outcome
    ("a1", "I1", "2024-04-05", 2, 10.0),
    ("a1", "I1", "2024-04-05", 1, 30.0),  # one invoice of 50
    ("a1", "I2", "2024-04-20", 1, 10.0),
    ("a2", "I3", "2024-03-15", 1, 10.0),
    ("a2", "I4", "2024-05-01", 1, 99.0),  # on the end day: excluded
    ("b1", "I5", "2024-04-10", 1, 100.0),
    ("b1", "C5", "2024-04-15", -1, 100.0),  # returned: net 0, still one purchase
    ("b2", "C6", "2024-04-02", -1, 5.0),  # a return only: not retained, net -5
    (None, "I7", "2024-04-03", 1, 1000.0),  # guest line: nobody's outcome
]
# (customer, session, event, day)
EVENTS = [
    ("a1", "s1", "view", "2024-04-05"),
    ("a1", "s1", "purchase", "2024-04-05"),
    ("a1", "s2", "view", "2024-04-06"),
    ("b1", "s3", "cart", "2024-04-09"),
    ("a2", "s4", "purchase", "2024-03-09"),  # before the cutoff
]
ASSIGN = pd.DataFrame(
    {"customer_id": ["a1", "a2", "b1", "b2", "b3"], "segment": ["A", "A", "B", "B", "B"]}
)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A schema-only warehouse with the hand-written lines and events."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("set TimeZone = 'UTC'")
    apply_schema(con, SQL_DIR)
    run_model(con, SQL_DIR, "staging", "stg_customers")
    for i, (customer, invoice, day, qty, price) in enumerate(LINES, start=1):
        con.execute(
            "insert into staging.stg_transactions by name select 't' as source, 'l' as load_id, "
            "$i as line_number, $inv as invoice_id, 'P' || $i as product_code, "
            "$qty as quantity, $price as unit_price, $at as invoiced_at, "
            "$c as customer_id, 'UK' as country, starts_with($inv, 'C') as is_cancellation, "
            "$qty * $price as line_revenue",
            {
                "i": i,
                "inv": invoice,
                "qty": qty,
                "price": price,
                "c": customer,
                "at": datetime.fromisoformat(day + "T10:00:00"),
            },
        )
    for i, (customer, session, event, day) in enumerate(EVENTS, start=1):
        con.execute(
            "insert into staging.stg_events by name select 't' as source, 'l' as load_id, "
            "$i as line_number, $c as customer_id, $s as session_id, $e as event_type, "
            "$at as event_at, 'web' as channel",
            {
                "i": i,
                "c": customer,
                "s": session,
                "e": event,
                "at": datetime.fromisoformat(day + "T09:00:00"),
            },
        )
    yield con
    con.close()


def test_outcomes_per_segment_are_exact(con: duckdb.DuckDBPyConnection) -> None:
    per, summary = backtest_assignments(con, SQL_DIR, ASSIGN, cutoff=CUTOFF, horizon_days=30)
    a, b = (per.set_index("segment").loc[s] for s in ("A", "B"))
    assert (a["customers"], a["retention"]) == (2, 0.5)
    assert a["revenue_per_customer"] == pytest.approx(30.0)  # (60 + 0) / 2
    assert a["avg_order_value"] == pytest.approx(30.0)  # 60 over two invoices
    assert a["purchases_per_customer"] == pytest.approx(1.0)
    assert a["conversion"] == pytest.approx(0.5)  # s1 bought, s2 did not
    assert (b["customers"], b["retention"]) == (3, pytest.approx(1 / 3))
    assert b["revenue_per_customer"] == pytest.approx(-5 / 3)  # 0 - 5 + 0
    assert b["avg_order_value"] == pytest.approx(100.0)
    assert b["purchases_per_customer"] == pytest.approx(1 / 3)
    assert b["conversion"] == pytest.approx(0.0)
    # y = log1p(max(net, 0)) = (ln 61, 0 | 0, 0, 0): between SS 0.30 L^2, total 0.80 L^2
    assert summary["explained_variance"] == pytest.approx(0.375)
    assert summary["retention_spread"] == pytest.approx(0.5 - 1 / 3)
    weighted = math.sqrt((2 * (0.5 - 0.4) ** 2 + 3 * (1 / 3 - 0.4) ** 2) / 5)
    assert summary["retention_std"] == pytest.approx(weighted)
    assert (summary["customers"], summary["segments"]) == (5, 2)
    assert summary["retention"] == pytest.approx(0.4)


def test_one_segment_explains_nothing(con: duckdb.DuckDBPyConnection) -> None:
    _, summary = backtest_assignments(
        con, SQL_DIR, ASSIGN.assign(segment=0), cutoff=CUTOFF, horizon_days=30
    )
    assert summary["explained_variance"] == 0.0 and summary["retention_spread"] == 0.0


def test_window_never_passes_as_of() -> None:
    assert backtest_window(date(2024, 7, 1), 90) == (date(2024, 4, 2), date(2024, 7, 1))
    with pytest.raises(ValueError, match="ends after as_of"):
        backtest_window(date(2024, 7, 1), 90, cutoff=date(2024, 5, 1))


def test_numpy_scores_agree_with_the_sql_summary(con: duckdb.DuckDBPyConnection) -> None:
    """The selection scores in numpy what ops.backtests records from SQL: one definition."""
    _, summary = backtest_assignments(con, SQL_DIR, ASSIGN, cutoff=CUTOFF, horizon_days=30)
    from segments.lifecycle.backtest import customer_outcomes

    outcomes = customer_outcomes(con, SQL_DIR, cutoff=CUTOFF, horizon_days=30)
    y, retained = outcome_arrays(ASSIGN, outcomes)
    scores = outcome_scores(ASSIGN["segment"].to_numpy(), y, retained)
    assert scores["eta2"] == pytest.approx(summary["explained_variance"])
    assert scores["retention_spread"] == pytest.approx(summary["retention_spread"])
    assert scores["k"] == 2 and scores["smallest_share"] == pytest.approx(0.4)
    assert retained.tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]  # b2 only returned: not retained


def test_cutoff_features_leave_the_features_at_as_of(con: duckdb.DuckDBPyConnection) -> None:
    as_of = date(2024, 6, 1)
    run_layer(con, SQL_DIR, "features", feature_params(as_of))
    frame = features_as_of(con, SQL_DIR, "features.customer_features", CUTOFF)
    assert set(frame["as_of"]) == {pd.Timestamp(CUTOFF)}
    assert sorted(frame["customer_id"]) == ["a1", "a2"]  # purchasers before the cutoff
    current = con.execute("select distinct as_of from features.customer_features").fetchall()
    assert current == [(as_of,)]


def test_cutoff_features_use_the_run_assumptions(con: duckdb.DuckDBPyConnection) -> None:
    """The backtest takes the run's params (CLV settings), with as_of moved to the cutoff."""
    default = features_as_of(con, SQL_DIR, "features.customer_features", CUTOFF)
    run_params = feature_params(date(2024, 6, 1), margin=0.6)
    doubled = features_as_of(con, SQL_DIR, "features.customer_features", CUTOFF, run_params)
    assert set(doubled["as_of"]) == {pd.Timestamp(CUTOFF)}
    assert (default["predicted_clv"] > 0).all()
    pd.testing.assert_series_equal(doubled["predicted_clv"], 2 * default["predicted_clv"])
