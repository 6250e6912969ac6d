"""The transaction of one load: raw, type and check, quarantine, then (unless too many lines
were bad) supersede, de-duplicate and stage, and the ops.loads row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

from segments.ingest import steps
from segments.ingest.hashing import create_hashed_view
from segments.ingest.loads import (
    HASHED,
    SCRATCH,
    LoadOptions,
    LoadResult,
    drop_scratch,
    latest_allowed,
    now,
    record,
)
from segments.ingest.readers import FileUnreadableError, drop_relation, first_line_of
from segments.ingest.sources import SourceMapping

SHARE_SETTING = "SEGMENTS_MAX_QUARANTINE_SHARE"


@contextmanager
def bulk_session(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Session settings for a bulk load, restored after.

    Rows carry their line number, so their order in a table means nothing: without insertion
    order DuckDB writes each thread's rows as they come (a 10M-line staging insert took 3x
    longer with it, and again as long at the checkpoint). FSST string compression is skipped
    in load tables: its analysis cost a third of the insert's CPU; dictionary compression
    still applies.
    """
    names = ("preserve_insertion_order", "disabled_compression_methods")
    before = {n: con.execute(f"select current_setting('{n}')").fetchone()[0] for n in names}
    con.execute("set preserve_insertion_order = false")
    con.execute("set disabled_compression_methods = 'fsst'")
    try:
        yield
    finally:
        con.execute(f"set preserve_insertion_order = {bool(before[names[0]])}")
        con.execute("set disabled_compression_methods = $v", {"v": before[names[1]] or ""})


def share_failure(
    con: duckdb.DuckDBPyConnection, load_id: str, read: int, quarantined: int, limit: float
) -> str | None:
    """The one-line reason a load quarantining more than `limit` of its lines fails, or None."""
    if read == 0 or quarantined / read <= limit:
        return None
    code, count, example = steps.top_reason(con, load_id)
    return (
        f"{quarantined:,} of {read:,} lines quarantined ({quarantined / read:.0%}), more than "
        f"{SHARE_SETTING}={limit:g}: nothing staged. Top reason {code} ({count:,} lines), "
        f"e.g. {example[:200]}. See ops.quarantine, or dry-run with `segments sources check`."
    )


def load_in_transaction(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    *,
    name: str,
    load_id: str,
    sha: str,
    size: int,
    rejects: list[dict],
    run_id: str,
    started: datetime,
    pii_key: bytes,
    options: LoadOptions,
    in_transaction: Callable[[duckdb.DuckDBPyConnection, LoadResult], None] | None,
) -> LoadResult:
    """Everything the load writes to the warehouse, committed together or not at all."""
    loaded_at = now()
    report = options.report
    in_memory = con.execute(
        "select count(*) from duckdb_tables() where temporary and table_name = $t",
        {"t": f"{SCRATCH}_data"},
    ).fetchone()[0]
    create_hashed_view(con, mapping, SCRATCH, HASHED, pii_key, materialize=bool(in_memory))
    # the pseudonym join keeps every row (one lookup row per value): count without it
    n_ok = con.execute(f"select count(*) from {HASHED if in_memory else SCRATCH}").fetchone()[0]
    if in_memory:
        drop_relation(con, SCRATCH)  # the raw text (and its memory) goes now
        drop_relation(con, f"{SCRATCH}_data")
    read = n_ok + len(rejects)
    if read == 0:
        raise FileUnreadableError(
            f"{name}: the file has no data rows; check that it is "
            "the right export and not empty or truncated"
        )
    with bulk_session(con):
        con.execute("begin transaction")
        try:
            report(f"raw copy of {read:,} lines", 0.15)
            steps.append_raw(con, mapping, HASHED, load_id, loaded_at)
            report(f"typing and checking {read:,} lines", 0.35)
            future = latest_allowed()
            floor = mapping.date_floor or options.date_floor  # the mapping's floor wins
            good, bad = steps.type_rows(con, mapping, HASHED, floor, future)
            steps.quarantine(con, mapping, HASHED, name, load_id, rejects, floor, future)
            quarantined = bad + len(rejects)
            limit = options.max_quarantine_share
            failure = (
                None if limit is None else share_failure(con, load_id, read, quarantined, limit)
            )
            staged = duplicates = without_customer = 0
            if failure is None:
                report("de-duplicating", 0.6)
                steps.supersede(con, mapping, name)
                duplicates = steps.find_duplicates(con, mapping, HASHED, floor, future)
                report(f"staging {good - duplicates:,} lines", 0.7)
                staged, without_customer = steps.insert_staging(
                    con, mapping, options.sql_dir, load_id, loaded_at, duplicates
                )
            result = LoadResult(
                load_id,
                mapping.name,
                name,
                "loaded" if failure is None else "failed",
                sha,
                size,
                rows_read=read,
                rows_staged=staged,
                rows_quarantined=quarantined,
                duplicates=duplicates,
                rows_without_customer=without_customer,
                message=failure or "",
            )
            record(con, result, mapping.entity, run_id, started)
            if in_transaction is not None and failure is None:
                in_transaction(con, result)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    if options.lake_dir is not None:
        report("lake copy", 0.9)
        export_lake(con, mapping, result, loaded_at, options.lake_dir)
    return result


def export_lake(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    result: LoadResult,
    loaded_at: datetime,
    lake_dir: Path,
) -> None:
    """The lake copy follows the commit; if it fails the load stands and says so."""
    try:
        steps.export_raw_load(con, mapping, HASHED, result.load_id, loaded_at, lake_dir)
    except (duckdb.Error, OSError) as exc:
        result.message = f"loaded, but the lake copy failed ({exc}); rerun export"
        con.execute(
            "update ops.loads set message = $m where load_id = $l",
            {"m": result.message, "l": result.load_id},
        )


def load_scratch(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    *,
    name: str,
    load_id: str,
    sha: str,
    size: int,
    rejects: list[dict],
    run_id: str,
    started: datetime,
    pii_key: bytes,
    options: LoadOptions,
    in_transaction: Callable[[duckdb.DuckDBPyConnection, LoadResult], None] | None = None,
) -> LoadResult:
    """Raw, quarantine and staging rows of the scratch view in one transaction, then the lake.

    `in_transaction` runs just before the commit (a database source moves its high-water
    mark there), so the mark and the rows commit or roll back together.
    """
    try:
        result = load_in_transaction(
            con,
            mapping,
            name=name,
            load_id=load_id,
            sha=sha,
            size=size,
            rejects=rejects,
            run_id=run_id,
            started=started,
            pii_key=pii_key,
            options=options,
            in_transaction=in_transaction,
        )
    except (FileUnreadableError, duckdb.Error, OSError, ValueError) as exc:
        message = (
            str(exc)
            if isinstance(exc, FileUnreadableError)
            else f"{name}: load failed ({first_line_of(exc)}); nothing was staged. Check "
            f"the file against mapping '{mapping.name}' (`segments sources check`)."
        )
        result = LoadResult(load_id, mapping.name, name, "failed", sha, size, message=message)
        record(con, result, mapping.entity, run_id, started)
    finally:
        drop_scratch(con)
    options.report("done", 1.0)
    return result
