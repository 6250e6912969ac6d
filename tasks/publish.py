"""Publish stage: build the candidate segment table, then swap it in atomically.

The candidate (`ops.customer_segments_candidate`) is validated before it becomes
`marts.customer_segments`, so a failed check leaves the last good segments served.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
from prefect import task

from segments.db import connect
from segments.runs import stage
from segments.settings import Settings
from segments.sql import run_model
from tasks.ingest import export_table

CANDIDATE = "ops.customer_segments_candidate"


def build_candidate(con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str,
                    as_of: date) -> int:
    """This run's segment table, not yet visible to BI tools."""
    rows = run_model(con, settings.sql_dir, "marts", "customer_segments",
                     {"run_id": run_id, "as_of": as_of}, target=CANDIDATE)
    if rows == 0:
        raise RuntimeError(f"run {run_id} scored no customers; nothing to publish, the previous "
                           "segments stay served")
    return rows


def publish_segments(con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str,
                     as_of: date) -> dict[str, Any]:
    """Replace the current segment table in one transaction; readers see old or new, never half."""
    con.execute("begin transaction")
    try:
        con.execute(f"create or replace table marts.customer_segments as select * from {CANDIDATE} "
                    "where run_id = $run_id", {"run_id": run_id})
        rows = con.execute("select count(*) from marts.customer_segments").fetchone()[0]
        if rows == 0:
            raise RuntimeError(f"the candidate table holds no rows of run {run_id}; build it first")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    folder = settings.lake_dir / "marts" / "customer_segments" / f"as_of={as_of.isoformat()}"
    export_table(con, "marts.customer_segments", folder)
    sizes = con.execute("select segment_name, count(*) from marts.customer_segments "
                        "group by all order by 2 desc, 1").fetchall()
    return {"rows": rows, "segments": {name: n for name, n in sizes}}


@task(name="build_segment_candidate")
def build_candidate_task(settings: Settings, run_id: str, as_of: date) -> int:
    """The table the customer_segments suite validates before publishing."""
    with stage(settings, run_id, "candidate", as_of=as_of) as details, connect(settings) as con:
        details["rows"] = build_candidate(con, settings, run_id=run_id, as_of=as_of)
    return details["rows"]


@task(name="publish_segments", retries=1, retry_delay_seconds=10)
def publish_segments_task(settings: Settings, run_id: str, as_of: date) -> dict[str, Any]:
    """Publish this run's validated segments (retried once: file I/O)."""
    with stage(settings, run_id, "publish", as_of=as_of) as details, connect(settings) as con:
        details.update(publish_segments(con, settings, run_id=run_id, as_of=as_of))
    return details
