"""Publish stage: build the candidate segment table, then write the marts back atomically.

The candidate (`ops.customer_segments_candidate`) is validated before it becomes
`marts.customer_segments`, so a failed check leaves the last good segments served. Publishing
is one warehouse transaction (current segments, changes, history, migration, profiles) that
commits only after the reader copies (serving.duckdb, lake Parquet, CRM exports) are renamed
into place, so what is served and the marts move together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from segments.core.errors import NothingToPublishError, RefusedError
from segments.core.money import is_money
from segments.core.sql import run_model, run_script
from segments.monitor import write_monitor_marts
from segments.publish.exports import write_changes_export, write_snapshot_export
from segments.publish.pending import PendingFiles, manifest_path
from segments.publish.recover import reconcile
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
        raise NothingToPublishError(
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
    """Write this run's validated segments back: readers' files and the marts together.

    Inside one warehouse transaction: the marts, then every reader file from them under a
    temporary name, a manifest, the renames (serving.duckdb first: the commit point), and only
    then the commit. A kill before the serving rename changes nothing; one after it is finished
    by the next run (publish/recover.py), so the marts never run ahead of the serving file.

    on_step is called with each step's name as it starts (transaction, history, files,
    serving, serving:<table>, manifest, swap, swapped:serving, commit): a hook for logging and for tests that
    kill a publish mid-way.
    """
    step = on_step or _no_step

    def marts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        return _write_marts(con, settings, run_id=run_id, as_of=as_of, step=step)

    def exports(con: duckdb.DuckDBPyConnection, pending: PendingFiles) -> None:
        write_changes_export(con, settings, pending, as_of=as_of, run_id=run_id)
        if snapshot:
            write_snapshot_export(con, settings, pending, as_of=as_of, run_id=run_id)

    return publish_transaction(
        con, settings, run_id=run_id, as_of=as_of, marts=marts, exports=exports, step=step
    )


def publish_transaction(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str,
    as_of: date,
    marts: Callable[[duckdb.DuckDBPyConnection], dict[str, Any]],
    exports: Callable[[duckdb.DuckDBPyConnection, PendingFiles], None],
    step: Step = _no_step,
) -> dict[str, Any]:
    """The one way marts and reader files move together (nightly and score-recent publishes).

    `marts` writes the marts inside the transaction and returns the publish's facts (with its
    model_version); `exports` adds the CRM files to the pending set.
    """
    recovered = reconcile(con, settings)
    check_publishable(con, as_of)
    step("transaction")
    pending = PendingFiles()
    swapping = False
    con.execute("begin transaction")
    try:
        facts = marts(con)
        step("files")
        write_lake_files(con, settings, pending, run_id=run_id, as_of=as_of)
        exports(con, pending)
        step("serving")
        write_serving_file(
            con,
            settings,
            pending,
            run_id=run_id,
            model_version=facts["model_version"],
            on_table=lambda table: step(f"serving:{table}"),
        )
        step("manifest")
        pending.write_manifest(settings, run_id)
        step("swap")
        swapping = True
        targets = pending.swap(after_serving=lambda: step("swapped:serving"))
        step("commit")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        if swapping:  # the serving file may be this publish already: finish it from there
            reconcile(con, settings)
        else:
            pending.discard()
            manifest_path(settings).unlink(missing_ok=True)
        raise
    manifest_path(settings).unlink(missing_ok=True)
    return {
        **facts,
        "files": [str(p.relative_to(settings.home)) for p in targets],
        "recovered": recovered,
    }


def check_publishable(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Refuse, before any work, an as_of this warehouse can never publish (never retried)."""
    try:
        latest = con.execute("select max(as_of) from marts.publishes").fetchone()[0]
    except duckdb.CatalogException:
        return
    if latest is not None and as_of < latest:
        raise RefusedError(
            f"as_of {as_of} is before the latest publish ({latest}): restating an "
            "earlier date would rewrite later history; publish as of "
            f"{latest} or later"
        )


def round_money(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> None:
    """Money in the marts (and so in the serving file and the lake) rounded to cents."""
    for table, column in con.execute(
        "select table_name, column_name from duckdb_columns() where schema_name = $s "
        "and (data_type in ('DOUBLE', 'FLOAT', 'REAL') "
        "or (data_type like 'DECIMAL(%' and numeric_scale > 2)) order by all",
        {"s": schema},
    ).fetchall():
        if is_money(column):
            con.execute(
                f'update {schema}.{table} set "{column}" = round("{column}", 2) '
                f'where "{column}" <> round("{column}", 2)'
            )


def install_candidate(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date) -> tuple[int, str]:
    """Make the run's validated candidate marts.customer_segments: (rows, model version).

    Both publishes (nightly and score-recent) go through here: the candidate must be a whole
    table of this run as of `as_of`, or nothing is published.
    """
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
    return rows, model_version


def _write_marts(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str, as_of: date, step: Step
) -> dict[str, Any]:
    """Every mart for this publish; the caller holds the transaction."""
    check_publishable(con, as_of)
    latest = con.execute("select max(as_of) from marts.publishes").fetchone()[0]
    if latest == as_of:  # a re-run replaces that publish, never adds a second one
        run_script(con, settings.sql_dir / "publish" / "undo_publish.sql", {"as_of": as_of})
    # a nightly publish's changes take effect on its as_of (a score-recent's: on its load day)
    params: dict[str, Any] = {"run_id": run_id, "as_of": as_of, "valid_from": as_of}
    rows, model_version = install_candidate(con, run_id, as_of)
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
    round_money(con)
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
