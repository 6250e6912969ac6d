"""Random transactions: the SQL features against a small pure-Python reference and lifetimes."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from feature_warehouse import Warehouse, new_warehouse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifetimes.utils import summary_data_from_transaction_data

START = datetime(2011, 1, 1)
MONTH_DAYS = 365.25 / 12


@st.composite
def line(draw: st.DrawFn) -> dict[str, Any]:
    """One staging line: a few customers (or a guest), invoices that repeat, some returns."""
    is_return = draw(st.integers(0, 3)) == 0
    quantity = draw(st.integers(1, 5))
    # a stray negative quantity on a normal invoice is a stock adjustment: a return too
    adjustment = not is_return and draw(st.integers(0, 9)) == 0
    return {
        "customer": draw(st.sampled_from(["a", "b", "c", "d", "e", None])),
        "invoice": ("C" if is_return else "") + str(draw(st.integers(1, 12))),
        "at": START
        + timedelta(
            days=draw(st.integers(0, 120)), minutes=draw(st.sampled_from([0, 1, 600, 1439]))
        ),
        "qty": -quantity if (is_return or adjustment) else quantity,
        "price": draw(st.sampled_from([0.0, 0.5, 1.25, 2.0, 10.0])),
        "product": draw(st.sampled_from(["P1", "P2", "P3"])),
    }


def is_return(x: dict[str, Any]) -> bool:
    """A cancellation invoice or a negative quantity."""
    return x["invoice"].startswith("C") or x["qty"] < 0


def score(values: dict[str, float], higher_is_better: bool = True) -> dict[str, int]:
    """Rank-based quintile: 1 + floor(5 * customers strictly worse / customers)."""
    n = len(values)
    sign = 1 if higher_is_better else -1
    return {
        c: 1 + (5 * sum(1 for o in values.values() if sign * o < sign * v)) // n
        for c, v in values.items()
    }


def reference(lines: list[dict[str, Any]], as_of: date) -> dict[str, dict[str, Any]]:
    """The feature definitions written out in plain Python."""
    cut = datetime(as_of.year, as_of.month, as_of.day)
    visible = [x for x in lines if x["customer"] is not None and x["at"] < cut]
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for x in visible:
        by_customer[x["customer"]].append(x)
    out: dict[str, dict[str, Any]] = {}
    for customer, rows in by_customer.items():
        buys = [x for x in rows if not is_return(x)]
        if not buys:
            continue
        revenue = [x["qty"] * x["price"] for x in rows]
        days: dict[date, float] = defaultdict(float)
        for x in buys:
            days[x["at"].date()] += x["qty"] * x["price"]
        ordered = sorted(days)
        gaps = [(b - a).days for a, b in itertools.pairwise(ordered)]
        gross = sum(x["qty"] * x["price"] for x in buys)
        returned = -sum(x["qty"] * x["price"] for x in rows if is_return(x))
        frequency = len({x["invoice"] for x in buys})
        tenure = (as_of - ordered[0]).days

        def window(lo: int, hi: int = 0, rows: list[dict[str, Any]] = rows) -> float:
            return sum(
                x["qty"] * x["price"]
                for x in rows
                if as_of - timedelta(days=lo) <= x["at"].date() < as_of - timedelta(days=hi)
            )

        last_q, prior_q = window(90), window(180, 90)
        out[customer] = {
            "recency_days": (as_of - ordered[-1]).days,
            "frequency": frequency,
            "monetary": sum(revenue),
            "avg_order_value": sum(revenue) / frequency,
            "tenure_days": tenure,
            "purchases_per_month": frequency / (max(tenure, MONTH_DAYS) / MONTH_DAYS),
            "mean_days_between_purchases": statistics.mean(gaps) if gaps else None,
            "std_days_between_purchases": statistics.stdev(gaps) if len(gaps) > 1 else None,
            "distinct_products": len({x["product"] for x in buys}),
            "return_rate": min(returned / gross, 1.0) if gross > 0 else float(returned > 0),
            "revenue_30d": window(30),
            "revenue_90d": last_q,
            "revenue_365d": window(365),
            "revenue_trend_qoq": 0.0
            if abs(last_q) + abs(prior_q) == 0
            else (last_q - prior_q) / (abs(last_q) + abs(prior_q)),
            "lt_frequency": len(ordered) - 1,
            "lt_recency_days": (ordered[-1] - ordered[0]).days,
            "lt_t_days": (as_of - timedelta(days=1) - ordered[0]).days,
            "lt_monetary": statistics.mean([days[d] for d in ordered[1:]])
            if len(ordered) > 1
            else 0.0,
        }
    for column, higher in (("recency_days", False), ("frequency", True), ("monetary", True)):
        scored = score({c: f[column] for c, f in out.items()}, higher)
        for customer, value in scored.items():
            out[customer][column[0] + "_score"] = value
    return out


@pytest.fixture(scope="module")
def shared() -> Iterator[Warehouse]:
    """One in-memory warehouse for every example (emptied between examples: fast)."""
    warehouse = new_warehouse()
    yield warehouse
    warehouse.con.close()


def reload(wh: Warehouse, lines: list[dict[str, Any]]) -> None:
    wh.con.execute("delete from staging.stg_transactions")
    wh.lines(lines)


def lifetimes_summary(lines: list[dict[str, Any]], as_of: date) -> pd.DataFrame:
    """lifetimes on the purchase lines with a customer before as_of (the documented cut)."""
    purchases = pd.DataFrame(
        [
            {
                "customer_id": x["customer"],
                "invoiced_at": x["at"],
                "line_revenue": x["qty"] * x["price"],
            }
            for x in lines
            if x["customer"] is not None and not is_return(x) and x["at"].date() < as_of
        ],
        columns=["customer_id", "invoiced_at", "line_revenue"],
    )
    if purchases.empty:
        return pd.DataFrame(columns=["frequency", "recency", "T", "monetary_value"])
    return summary_data_from_transaction_data(
        purchases,
        "customer_id",
        "invoiced_at",
        "line_revenue",
        observation_period_end=pd.Timestamp(as_of - timedelta(days=1)),
        freq="D",
    ).sort_index()


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(line(), max_size=40), as_of_day=st.integers(0, 130))
def test_sql_matches_python_reference_and_lifetimes(
    shared: Warehouse, lines: list[dict[str, Any]], as_of_day: int
) -> None:
    as_of = (START + timedelta(days=as_of_day)).date()
    reload(shared, lines)
    actual = shared.features(as_of)

    expected = reference(lines, as_of)
    assert sorted(actual.index) == sorted(expected)
    for customer, features in expected.items():
        row = actual.loc[customer]
        for column, value in features.items():
            if value is None:
                assert pd.isna(row[column]), (customer, column)
            else:
                assert row[column] == pytest.approx(value, rel=1e-9, abs=1e-9), (customer, column)

    summary = lifetimes_summary(lines, as_of)
    assert list(actual.index) == list(summary.index)
    for ours, theirs in (
        ("lt_frequency", "frequency"),
        ("lt_recency_days", "recency"),
        ("lt_t_days", "T"),
        ("lt_monetary", "monetary_value"),
    ):
        assert actual[ours].astype(float).to_numpy() == pytest.approx(
            summary[theirs].astype(float).to_numpy(), rel=1e-9, abs=1e-9
        ), ours
