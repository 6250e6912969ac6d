"""Incremental scoring's publish (`segments score-recent`): only the customers that loads since
the last publish touched, at the served as_of, published like the nightly publish.

Why the served as_of: every customer's features depend on as_of (recency, tenure, windows), so
only at the date already served can the untouched customers keep their rows and still be what
the nightly would say; at that as_of the touched customers' rows equal the nightly's (the
feature stage is the nightly's own, the champion scores each row on its own). Lines dated on
or after the served as_of are staged now and count from the next nightly run.

The plan (`plan_recent`) finds the loads and customers; the candidate (`build_recent_candidate`)
is the served table with the touched customers' rows replaced, validated by the nightly's
customer_segments suite; `publish_recent` writes it back in the nightly's publish transaction
(publish/marts.py), with history moving on at the load day.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from segments.core.errors import NothingToPublishError
from segments.core.sql import run_model, run_script
from segments.publish.exports import write_changes_export
from segments.publish.marts import (
    CANDIDATE,
    _no_step,
    install_candidate,
    publish_transaction,
    round_money,
)
from segments.settings import Settings


@dataclass(frozen=True)
class RecentPlan:
    """What one score-recent run takes in: the served as_of, its new loads and customers."""

    as_of: date | None  # the served as_of; None before the first publish
    loads: int
    touched: int
    valid_from: date | None  # the day the changes take effect: the last load's day (>= as_of)

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}


def served_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The as_of of the latest nightly publish (what serving.duckdb holds)."""
    return con.execute("select max(as_of) from marts.publishes").fetchone()[0]


def plan_recent(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> RecentPlan:
    """Record this run's touched customers (ops.touched_customers); refuse before the first
    publish, since there is nothing served to update."""
    as_of = served_as_of(con)
    if as_of is None:
        raise NothingToPublishError(
            "nothing published yet, so nothing to update; run `segments run` first"
        )
    run_script(con, settings.sql_dir / "publish" / "touched_customers.sql", {"run_id": run_id})
    loads, last_load = con.execute("select count(*), max(ended_at) from recent_loads").fetchone()
    touched = con.execute(
        "select count(*) from ops.touched_customers where run_id = $r", {"r": run_id}
    ).fetchone()[0]
    valid_from = max(last_load.date(), as_of) if last_load is not None else None
    return RecentPlan(as_of=as_of, loads=loads, touched=touched, valid_from=valid_from)


def build_recent_candidate(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str, as_of: date
) -> dict[str, int]:
    """The served segments with the touched customers' rows replaced by this run's scores:
    the whole table the customer_segments suite validates before it is published."""
    scored = run_model(
        con,
        settings.sql_dir,
        "marts",
        "customer_segments",
        {"run_id": run_id, "as_of": as_of},
        target=CANDIDATE,
    )
    # the untouched customers' rows as served; run_id names the publish that wrote the
    # table, as in a nightly publish (the customer_segments suite checks this run's rows)
    kept = con.execute(
        f"insert into {CANDIDATE} by name select * replace ($r as run_id) "
        "from marts.customer_segments where customer_id not in "
        "(select customer_id from ops.touched_customers where run_id = $r)",
        {"r": run_id},
    ).fetchone()[0]
    return {"scored": scored, "kept": kept, "rows": scored + kept}


def publish_recent(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str,
    as_of: date,
    valid_from: date,
    loads: int,
    on_step: Any = None,
) -> dict[str, Any]:
    """Write the validated candidate back like a nightly publish (one transaction, reader
    files renamed together, the same recovery): customer_segments, segment_changes (the CRM
    change file `segment_changes_<as_of>_recent-<time>`), history from valid_from, the
    serving file and the lake. Profiles, migration, KPIs and marts.publishes stay the
    nightly's."""
    step = on_step or _no_step
    published_at = datetime.now(UTC).replace(tzinfo=None)
    label = f"recent-{published_at:%Y%m%dT%H%M%S}"

    def marts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        params: dict[str, Any] = {"run_id": run_id, "as_of": as_of, "valid_from": valid_from}
        # every candidate row carries this run's id (build_recent_candidate)
        rows, model_version = install_candidate(con, run_id, as_of)
        run_model(con, settings.sql_dir, "marts", "segment_changes", params)
        step("history")
        run_script(con, settings.sql_dir / "publish" / "close_segment_stays.sql", params)
        run_model(con, settings.sql_dir, "marts", "segment_history", params)
        round_money(con)
        run_script(
            con,
            settings.sql_dir / "publish" / "record_recent_publish.sql",
            {
                **params,
                "loads": loads,
                "model_version": model_version,
                "published_at": published_at,
            },
        )
        reasons = con.execute(
            "select change_reason, count(*) from marts.segment_changes group by all order by 1"
        ).fetchall()
        sizes = con.execute(
            "select segment_name, count(*) from marts.customer_segments "
            "group by all order by 2 desc, 1"
        ).fetchall()
        return {
            "rows": rows,
            "segments": dict(sizes),
            "changes": dict(reasons),
            "model_version": model_version,
            "valid_from": valid_from.isoformat(),
        }

    def exports(con: duckdb.DuckDBPyConnection, pending: Any) -> None:
        write_changes_export(con, settings, pending, as_of=as_of, run_id=run_id, label=label)

    return publish_transaction(
        con, settings, run_id=run_id, as_of=as_of, marts=marts, exports=exports, step=step
    )
