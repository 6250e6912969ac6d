"""Publish stage: build the candidate segment table, then write the marts back atomically.

The candidate (`ops.customer_segments_candidate`) is validated before it becomes
`marts.customer_segments`, so a failed check leaves the last good segments served. Publishing
is one warehouse transaction (current segments, changes, history, migration, profiles), then
reader copies (lake Parquet, serving.duckdb, CRM exports) pending and renamed into place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from segments.core.sql import run_model, run_script
from segments.monitor import write_monitor_marts
from segments.publish.exports import write_changes_export, write_snapshot_export
from segments.publish.pending import PendingFiles, remove_leftovers
from segments.publish.serving import write_lake_files, write_serving_file
from segments.settings import Settings

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
    pending = PendingFiles()
    try:
        write_lake_files(con, settings, pending, run_id=run_id, as_of=as_of)
        write_changes_export(con, settings, pending, as_of=as_of, run_id=run_id)
        if snapshot:
            write_snapshot_export(con, settings, pending, as_of=as_of, run_id=run_id)
        step("serving")
        write_serving_file(
            con,
            settings,
            pending,
            run_id=run_id,
            model_version=facts["model_version"],
            on_table=lambda table: step(f"serving:{table}"),
        )
        step("swap")
        targets = pending.swap()
    except BaseException:
        for tmp, _ in pending.pairs:
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
    if latest == as_of:  # a re-run replaces that publish, never adds a second one
        run_script(con, settings.sql_dir / "publish" / "undo_publish.sql", {"as_of": as_of})
    params: dict[str, Any] = {"run_id": run_id, "as_of": as_of}
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
    params["previous_as_of"] = previous_as_of
    # migration reads the open stays before history moves on to this publish
    run_model(con, settings.sql_dir, "marts", "segment_migration", params)
    step("history")
    run_script(con, settings.sql_dir / "publish" / "close_segment_stays.sql", params)
    run_model(con, settings.sql_dir, "marts", "segment_history", params)
    run_model(con, settings.sql_dir, "marts", "segment_profiles", params)
    write_monitor_marts(con, settings, params)  # segment KPIs, campaign results
    published_at = datetime.now(UTC).replace(tzinfo=None)
    run_model(
        con, settings.sql_dir, "marts", "publishes", {**params, "published_at": published_at}
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
