"""The incremental feature path equals a full recompute from staging, exactly.

Every build below takes in only what changed since the previous one (new loads, late lines,
returns, a re-landed file that supersedes an earlier load, an erased customer), and is then
compared with the same layer rebuilt from all of staging (`full_refresh`, in a transaction
that is rolled back, so the incremental state carries on). Money is summed as DECIMAL and
every deviation from exact integer sums, so the comparison is exact: no tolerance, floats
included.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from feature_warehouse import SQL_DIR, Warehouse, new_warehouse, relation_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments.core.sql import incremental_models, materialization, model_order

START = datetime(2011, 1, 1)
POINT_IN_TIME = [
    name
    for name in model_order(SQL_DIR, "features")
    if materialization((SQL_DIR / "features" / f"{name}.sql").read_text()) != "incremental"
]
AGGREGATES = incremental_models(SQL_DIR, "features")


def snapshot(wh: Warehouse, relations: list[str]) -> dict[str, pd.DataFrame]:
    """Each relation's rows in a canonical order (every column sorted on)."""
    out = {}
    for name in relations:
        frame = wh.con.execute(f"select * from {relation_of(name)}").df()
        out[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


def full_recompute(wh: Warehouse, as_of: date) -> dict[str, pd.DataFrame]:
    """The layer rebuilt from all of staging, without disturbing the incremental state."""
    wh.con.execute("begin transaction")
    try:
        wh.build(as_of, full_refresh=True)
        return snapshot(wh, POINT_IN_TIME + AGGREGATES)
    finally:
        wh.con.execute("rollback")


def assert_incremental_exact(wh: Warehouse, as_of: date) -> dict[str, int]:
    counts = wh.build(as_of)
    incremental = snapshot(wh, POINT_IN_TIME + AGGREGATES)
    full = full_recompute(wh, as_of)
    for name, frame in full.items():
        pd.testing.assert_frame_equal(incremental[name], frame, check_exact=True, obj=name)
    return counts


def line(customer: str | None, invoice: str, at: str, qty: int = 1, price: float = 2.5,
         product: str = "P1") -> dict[str, Any]:  # fmt: skip
    return {"customer": customer, "invoice": invoice, "at": at, "qty": qty, "price": price,
            "product": product}  # fmt: skip


def test_late_lines_returns_corrections_and_erasure_match_a_full_recompute(
    wh: Warehouse,
) -> None:
    wh.customers([{"customer": c} for c in ("a", "b", "c")])
    # night 1: history
    wh.lines(
        [
            line("a", "1", "2011-01-03 10:00", 2, 10.0, "P1"),
            line("a", "1", "2011-01-03 10:00", 1, 5.5, "P2"),
            line("a", "2", "2011-02-10 23:59", 1, 7.25, "P3"),
            line("b", "3", "2011-01-20 09:00", 4, 1.1, "P1"),
            line(None, "4", "2011-01-21 09:00", 1, 3.0, "P9"),  # a guest
            line("c", "5", "2011-03-01 12:00", 3, 0.0, "P4"),  # a free item
        ],
        load="tx-1",
    )
    wh.events(
        [
            {"customer": "a", "session": "s1", "type": "cart", "at": "2011-02-10 08:00"},
            {"customer": "a", "session": "s1", "type": "purchase", "at": "2011-02-10 08:05"},
            {"customer": "b", "session": None, "type": "view", "at": "2011-03-02 08:05"},
        ],
        load="ev-1",
    )
    first = assert_incremental_exact(wh, date(2011, 4, 1))
    assert first["agg_load_invoice_days"] > 0

    # night 2: a late line for an old invoice, a return of it, a new invoice straddling midnight
    wh.lines(
        [
            line("a", "1", "2011-01-03 10:30", 1, 99.99, "P5"),  # late: joins invoice 1
            line("a", "C6", "2011-04-02 11:00", -1, 10.0, "P1"),  # returns part of invoice 1
            line("b", "7", "2011-04-02 23:58", 1, 4.0, "P2"),
            line("b", "7", "2011-04-03 00:01", 2, 4.0, "P6"),
            line("c", "8", "2011-04-03 10:00", -2, 1.0, "P4"),  # a stock adjustment: a return
        ],
        load="tx-2",
    )
    second = assert_incremental_exact(wh, date(2011, 4, 10))
    assert second["agg_load_invoice_days"] == 5  # only the new load's invoice-days

    # a backtest-style cutoff inside the data: customers with later lines are re-summed
    assert_incremental_exact(wh, date(2011, 2, 11))

    # night 3: tx-2's file is re-landed corrected: its rows are superseded by tx-3
    wh.con.execute("delete from staging.stg_transactions where load_id = 'tx-2'")
    wh.lines(
        [
            line("a", "1", "2011-01-03 10:30", 1, 9.99, "P5"),  # the price was wrong
            line("b", "7", "2011-04-02 23:58", 1, 4.0, "P2"),
            line("c", "8", "2011-04-03 10:00", -2, 1.0, "P4"),
        ],
        load="tx-3",
    )
    wh.events([{"customer": "c", "session": "s9", "type": "view", "at": "2011-04-04"}], "ev-2")
    assert_incremental_exact(wh, date(2011, 4, 10))
    monetary_a = wh.con.execute(
        "select monetary from features.customer_features where customer_id = 'a'"
    ).fetchone()[0]
    assert monetary_a == pytest.approx(2 * 10.0 + 5.5 + 7.25 + 9.99)  # no return, new price

    # an erased customer: their lines leave staging (and, as `segments forget` does, the
    # aggregates); the next build must agree with a rebuild without them
    wh.con.execute("delete from staging.stg_transactions where customer_id = 'b'")
    wh.con.execute("delete from staging.stg_events where customer_id = 'b'")
    for name in AGGREGATES:
        wh.con.execute(f"delete from features.{name} where customer_id = 'b'")
    assert_incremental_exact(wh, date(2011, 4, 20))
    assert "b" not in set(wh.frame("features.customer_features").index)

    # the same erasure when only staging was cleaned: the changed load is redone
    wh.con.execute("delete from staging.stg_transactions where customer_id = 'c'")
    assert_incremental_exact(wh, date(2011, 4, 20))
    assert "c" not in set(wh.frame("features.customer_features").index)


def test_a_changed_model_definition_rebuilds_its_rows(wh: Warehouse) -> None:
    wh.lines([line("a", "1", "2011-01-03 10:00")], load="tx-1")
    wh.build(date(2011, 2, 1))
    wh.con.execute("update ops.incremental_models set sql_sha256 = 'an older version'")
    wh.con.execute("delete from features.agg_load_invoice_days")  # what the old SQL made
    counts = wh.build(date(2011, 2, 1))
    assert counts["agg_load_invoice_days"] == 1  # rebuilt whole, not left empty


# ---- random sequences of loads, supersedes and erasures ------------------------------------


@st.composite
def lines_of_a_load(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few lines: shared invoices across loads (late lines), returns, guests, free items."""
    out = []
    for _ in range(draw(st.integers(1, 8))):
        is_return = draw(st.integers(0, 4)) == 0
        quantity = draw(st.integers(1, 4))
        out.append(
            {
                "customer": draw(st.sampled_from(["a", "b", "c", "d", None])),
                "invoice": ("C" if is_return else "") + str(draw(st.integers(1, 6))),
                "at": START
                + timedelta(
                    days=draw(st.integers(0, 60)), minutes=draw(st.sampled_from([0, 1439]))
                ),
                "qty": -quantity if is_return else quantity,
                "price": draw(st.sampled_from([0.0, 0.1, 1.25, 3.33])),
                "product": draw(st.sampled_from(["P1", "P2", "P3", None])),
            }
        )
    return out


step = st.one_of(
    st.tuples(st.just("load"), lines_of_a_load()),
    st.tuples(st.just("supersede"), lines_of_a_load()),
    st.tuples(st.just("erase"), st.sampled_from(["a", "b", "c", "d"])),
    st.tuples(
        st.just("events"),
        st.lists(
            st.tuples(
                st.sampled_from(["a", "b", "e"]),
                st.sampled_from(["s1", "s2", None]),
                st.sampled_from(["view", "cart", "purchase"]),
                st.integers(0, 60),
            ),
            min_size=1,
            max_size=4,
        ),
    ),
)


@pytest.fixture(scope="module")
def shared() -> Warehouse:
    warehouse = new_warehouse()
    yield warehouse
    warehouse.con.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(step, min_size=1, max_size=5), as_of_days=st.lists(st.integers(0, 70)))
def test_any_sequence_of_changes_matches_a_full_recompute(
    shared: Warehouse, steps: list[tuple[str, Any]], as_of_days: list[int]
) -> None:
    wh = shared
    for table in ("staging.stg_transactions", "staging.stg_events", "ops.incremental_loads",
                  "ops.incremental_models", *(f"features.{n}" for n in AGGREGATES)):  # fmt: skip
        wh.con.execute(f"delete from {table}")
    loads: list[str] = []
    for number, (kind, payload) in enumerate(steps):
        if kind == "load" or (kind == "supersede" and not loads):
            loads.append(f"tx-{number}")
            wh.lines(payload, load=loads[-1])
        elif kind == "supersede":  # a re-landed file: the last load's rows replaced
            wh.con.execute(
                "delete from staging.stg_transactions where load_id = $l", {"l": loads[-1]}
            )
            loads[-1] = f"tx-{number}"
            wh.lines(payload, load=loads[-1])
        elif kind == "erase":
            wh.con.execute(
                "delete from staging.stg_transactions where customer_id = $c", {"c": payload}
            )
        else:
            wh.events(
                [{"customer": c, "session": s, "type": t, "at": START + timedelta(days=d)}
                 for c, s, t, d in payload],
                load=f"ev-{number}",
            )  # fmt: skip
        day = as_of_days[number % len(as_of_days)] if as_of_days else 61
        assert_incremental_exact(wh, (START + timedelta(days=day)).date())
