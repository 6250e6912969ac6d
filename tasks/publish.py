"""Publish stage: build the candidate segment table, then write the marts back atomically.

The candidate (`ops.customer_segments_candidate`) is validated before it becomes
`marts.customer_segments`, so a failed check leaves the last good segments served. Publishing
is one warehouse transaction (current segments, changes, history, migration, profiles), then
reader copies (lake Parquet, serving.duckdb, CRM exports) staged and renamed into place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import duckdb
from prefect import task

from segments.db import connect
from segments.exports import stage_changes, stage_snapshot
from segments.runs import stage
from segments.serving import StagedFiles, remove_leftovers, stage_lake, stage_serving
from segments.settings import Settings
from segments.sql import run_model

CANDIDATE = "ops.customer_segments_candidate"

Step = Callable[[str], None]


def build_candidate(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str, as_of: date
) -> int:
    """This run's segment table, not yet visible to BI tools."""
    rows = run_model(
        con,
        settings.sql_dir,
        "marts",
        "customer_segments",
        {"run_id": run_id, "as_of": as_of},
        target=CANDIDATE,
    )
    if rows == 0:
        raise RuntimeError(
            f"run {run_id} scored no customers; nothing to publish, the previous "
            "segments stay served"
        )
    return rows


def _no_step(name: str) -> None:
    """Default progress hook: publishing needs no observer."""


def publish_segments(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str,
    as_of: date,
    snapshot: bool = False,
    on_step: Step | None = None,
) -> dict[str, Any]:
    """Write this run's validated segments back: marts in one transaction, then reader files.

    on_step is called with each step's name as it starts (transaction, history, files,
    serving, serving:<table>, swap): a hook for logging and for tests that kill a publish mid-way.
    """
    step = on_step or _no_step
    leftovers = remove_leftovers(settings)
    step("transaction")
    con.execute("begin transaction")
    try:
        facts = _write_marts(con, settings, run_id=run_id, as_of=as_of, step=step)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    step("files")
    staged = StagedFiles()
    try:
        stage_lake(con, settings, staged, run_id=run_id, as_of=as_of)
        stage_changes(con, settings, staged, as_of=as_of, run_id=run_id)
        if snapshot:
            stage_snapshot(con, settings, staged, as_of=as_of, run_id=run_id)
        step("serving")
        stage_serving(
            con,
            settings,
            staged,
            run_id=run_id,
            model_version=facts["model_version"],
            on_table=lambda table: step(f"serving:{table}"),
        )
        step("swap")
        targets = staged.swap()
    except BaseException:
        for tmp, _ in staged.pairs:
            tmp.unlink(missing_ok=True)
        raise
    return {
        **facts,
        "files": [str(p.relative_to(settings.home)) for p in targets],
        "leftovers_removed": len(leftovers),
    }


def _write_marts(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str, as_of: date, step: Step
) -> dict[str, Any]:
    """Every mart for this publish; the caller holds the transaction."""
    latest = con.execute("select max(as_of) from marts.publishes").fetchone()[0]
    if latest is not None and as_of < latest:
        raise ValueError(
            f"as_of {as_of} is before the latest publish ({latest}): restating an "
            "earlier date would rewrite later history; publish as of "
            f"{latest} or later"
        )
    if latest == as_of:
        _undo_publish(con, as_of)  # a re-run replaces that publish, never adds a second one
    params = {"run_id": run_id, "as_of": as_of}
    con.execute(
        f"create or replace table marts.customer_segments as select * from {CANDIDATE} "
        "where run_id = $run_id",
        {"run_id": run_id},
    )
    rows, dates, model_version = con.execute(
        "select count(*), count(distinct as_of) filter (where as_of <> $as_of), "
        "any_value(model_version) from marts.customer_segments",
        {"as_of": as_of},
    ).fetchone()
    if rows == 0 or dates:
        raise RuntimeError(
            f"the candidate table holds no rows of run {run_id} as of {as_of}; build it first"
        )
    run_model(con, settings.sql_dir, "marts", "segment_changes", params)
    previous_as_of = con.execute(
        "select max(as_of) from marts.publishes where as_of < $as_of", {"as_of": as_of}
    ).fetchone()[0]
    _append_migration(con, {**params, "previous_as_of": previous_as_of})
    step("history")
    _update_history(con, params)
    run_model(con, settings.sql_dir, "marts", "segment_profiles", params)
    changed = con.execute("select count(*) from marts.segment_changes").fetchone()[0]
    con.execute(
        "insert into marts.publishes values ($as_of, $previous_as_of, $run_id, $model, "
        "$rows, $changed, $now)",
        {
            **params,
            "previous_as_of": previous_as_of,
            "model": model_version,
            "rows": rows,
            "changed": changed,
            "now": datetime.now(UTC).replace(tzinfo=None),
        },
    )
    sizes = con.execute(
        "select segment_name, count(*) from marts.customer_segments "
        "group by all order by 2 desc, 1"
    ).fetchall()
    reasons = con.execute(
        "select change_reason, count(*) from marts.segment_changes group by all order by 1"
    ).fetchall()
    return {
        "rows": rows,
        "segments": dict(sizes),
        "changes": dict(reasons),
        "model_version": model_version,
        "previous_as_of": previous_as_of.isoformat() if previous_as_of else None,
    }


def _undo_publish(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Take back the publish of as_of: drop the rows it opened, reopen the rows it closed."""
    params = {"as_of": as_of}
    con.execute("delete from marts.segment_history where valid_from = $as_of", params)
    con.execute(
        "update marts.segment_history set valid_to = null, closed_by_run_id = null "
        "where valid_to = $as_of",
        params,
    )
    con.execute("delete from marts.segment_migration where as_of = $as_of", params)
    con.execute("delete from marts.publishes where as_of = $as_of", params)


def _append_migration(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
    """From -> to counts of this publish; read before history moves on to it."""
    con.execute(
        """
        insert into marts.segment_migration
        with previous as (
            select * from marts.segment_history where valid_to is null
        ),
        pairs as (
            select previous.segment_id as from_segment_id,
                   previous.segment_name as from_segment_name,
                   current_segments.segment_id as to_segment_id,
                   current_segments.segment_name as to_segment_name
            from marts.customer_segments as current_segments
            full outer join previous on previous.customer_id = current_segments.customer_id
        )
        select $as_of, $previous_as_of, from_segment_id, from_segment_name, to_segment_id,
               to_segment_name, count(*),
               (select any_value(model_version) from marts.customer_segments), $run_id
        from pairs
        group by from_segment_id, from_segment_name, to_segment_id, to_segment_name
        order by from_segment_id nulls first, to_segment_id nulls first
    """,
        params,
    )


def _update_history(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
    """Close the stays of customers who moved or left; open the stays that begin now."""
    con.execute(
        "update marts.segment_history set valid_to = $as_of, closed_by_run_id = $run_id "
        "where valid_to is null and customer_id in (select customer_id from "
        "marts.segment_changes where previous_segment_id is not null)",
        params,
    )
    con.execute(
        "insert into marts.segment_history by name select customer_id, segment_id, "
        "segment_name, as_of as valid_from, model_version, run_id, as_of "
        "from marts.segment_changes where segment_id is not null"
    )


@task(name="build_segment_candidate")
def build_candidate_task(settings: Settings, run_id: str, as_of: date) -> int:
    """The table the customer_segments suite validates before publishing."""
    with stage(settings, run_id, "candidate", as_of=as_of) as details, connect(settings) as con:
        details["rows"] = build_candidate(con, settings, run_id=run_id, as_of=as_of)
    return details["rows"]


@task(name="publish_segments", retries=1, retry_delay_seconds=10)
def publish_segments_task(
    settings: Settings, run_id: str, as_of: date, snapshot: bool = False
) -> dict[str, Any]:
    """Publish this run's validated segments (retried once: file I/O; a retry redoes it)."""
    with stage(settings, run_id, "publish", as_of=as_of) as details, connect(settings) as con:
        details.update(
            publish_segments(con, settings, run_id=run_id, as_of=as_of, snapshot=snapshot)
        )
    return details
