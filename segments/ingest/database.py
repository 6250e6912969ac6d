"""SQL database tables or queries as sources (a CRM's customer table, say), read in batches.

Each batch lands in the same scratch shape as a file and goes through the same typing,
quarantine and staging path. With `updated_at`, only rows newer than the high-water mark in
ops.source_state are read, and the mark moves in the same transaction as the batch's rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb
import pandas as pd

from segments.ingest.loading import load_scratch
from segments.ingest.loads import LoadOptions, LoadResult, claim_load, now, record
from segments.ingest.readers import finish_scratch
from segments.ingest.sources import DatabaseOptions, SourceMapping

SCRATCH = "_loading"


def redacted_url(url: str) -> str:
    """The URL without its password: what ops.loads may show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def source_label(opts: DatabaseOptions) -> str:
    """ops.loads.path of a database source: URL without password, then table or query."""
    what = opts.table or "query:" + hashlib.sha256(opts.query.encode()).hexdigest()[:12]
    return f"{redacted_url(opts.url)}#{what}"


def _select(opts: DatabaseOptions, placeholder: str, since: str | None) -> tuple[str, list]:
    """The SELECT to run, ordered by updated_at and filtered by the mark when there is one."""
    if opts.table is not None:
        body = ".".join(f'"{part}"' for part in opts.table.split("."))
        base = f"select * from {body}"
    else:
        base = opts.query.strip().rstrip(";")
    if opts.updated_at is None:
        return f"select * from ({base}) as src", []
    column = f'src."{opts.updated_at}"'
    where = f" where {column} > {placeholder}" if since is not None else ""
    return f"select * from ({base}) as src{where} order by {column}", (
        [since] if since is not None else []
    )


def _connect(url: str) -> Any:
    if url.startswith("sqlite:///"):
        import sqlite3

        path = url.removeprefix("sqlite:///")
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: SQLite file not found (from {url})")
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    import psycopg2  # only PostgreSQL sources need the driver

    return psycopg2.connect(url.replace("postgres://", "postgresql://", 1))


def read_batches(
    opts: DatabaseOptions, since: str | None
) -> Iterator[tuple[list[str], list[tuple]]]:
    """(column names, rows) batches of about batch_rows; rows sharing an updated_at value
    never straddle two batches, so a mark between batches loses nothing on a restart."""
    sqlite = opts.url.startswith("sqlite:///")
    sql, params = _select(opts, "?" if sqlite else "%s", since)
    with closing(_connect(opts.url)) as db:
        cursor = db.cursor() if sqlite else db.cursor(name="segments_read")
        if not sqlite:
            cursor.itersize = opts.batch_rows
        cursor.execute(sql, params)
        columns: list[str] | None = [d[0] for d in cursor.description] if sqlite else None
        pending: list[tuple] = []
        while True:
            rows = cursor.fetchmany(opts.batch_rows)
            if columns is None:
                columns = [d[0] for d in cursor.description]
            pending.extend(rows)
            if not rows or len(pending) >= opts.batch_rows:
                cut = _tie_safe_cut(
                    pending,
                    columns.index(opts.updated_at) if opts.updated_at else None,
                    more=bool(rows),
                )
                if cut:
                    yield columns, pending[:cut]
                    pending = pending[cut:]
            if not rows:
                break
        if pending:
            yield columns, pending
        cursor.close()


def _tie_safe_cut(rows: list[tuple], mark: int | None, *, more: bool) -> int:
    """How many rows to emit: all but the trailing run of the last updated_at value."""
    if mark is None or not more or not rows:
        return len(rows)
    last = rows[-1][mark]
    cut = len(rows)
    while cut > 0 and rows[cut - 1][mark] == last:
        cut -= 1
    return cut  # 0 means one value fills the batch: keep reading until it ends


def _text(value: object) -> str | None:
    """Database values as the text a CSV export would hold."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _high_water(con: duckdb.DuckDBPyConnection, source: str) -> str | None:
    row = con.execute(
        "select high_water_mark from ops.source_state where source = $s", {"s": source}
    ).fetchone()
    return row[0] if row else None


def ingest_database(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    *,
    run_id: str,
    pii_key: bytes,
    options: LoadOptions | None = None,
    **option_values: object,
) -> list[LoadResult]:
    """Read new rows of a database source batch by batch; one ops.loads row per batch."""
    load_options = options or LoadOptions(**option_values)  # type: ignore[arg-type]
    opts = mapping.database
    if opts is None:
        raise ValueError(f"source {mapping.name} has no `database:` section")
    label = source_label(opts)
    since = _high_water(con, mapping.name) if opts.updated_at else None
    results: list[LoadResult] = []
    started = read_at = now()
    try:
        batches = read_batches(opts, since)
        for index, (columns, rows) in enumerate(batches):
            texts = [[_text(v) for v in row] for row in rows]
            sha = hashlib.sha256(json.dumps([columns, texts]).encode()).hexdigest()
            mark = (
                _text(max(r[columns.index(opts.updated_at)] for r in rows))
                if opts.updated_at
                else None
            )
            # a unique name per read: a re-read never supersedes (deletes) earlier versions
            name = f"{label}?read={read_at:%Y%m%dT%H%M%S%f}&after={since or ''}&batch={index}"
            results.append(
                _load_batch(
                    con,
                    mapping,
                    name,
                    columns,
                    texts,
                    sha,
                    mark,
                    run_id,
                    pii_key,
                    load_options,
                )
            )
            started = now()
            if results[-1].status == "failed":
                break  # the mark stays before this batch: the next run retries it
    except Exception as exc:  # noqa: BLE001 - any driver error fails this source, not the run
        failed = LoadResult(
            f"{mapping.name}-dbread-{started:%Y%m%d%H%M%S%f}",
            mapping.name,
            label,
            "failed",
            message=f"{label}: cannot read the database "
            f"({type(exc).__name__}: {exc}). Check the URL, the table or "
            "query, and that the server accepts connections.",
        )
        record(con, failed, mapping.entity, run_id, started)
        results.append(failed)
    return results


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    name: str,
    columns: list[str],
    texts: list[list[str | None]],
    sha: str,
    mark: str | None,
    run_id: str,
    pii_key: bytes,
    options: LoadOptions,
) -> LoadResult:
    """One batch through the file path: scratch table, then load_scratch in one transaction."""
    started = now()
    load_id, skipped = claim_load(con, mapping, name, sha, 0, run_id, started)
    if skipped is not None:
        return skipped
    frame = pd.DataFrame(texts, columns=columns, dtype="string")
    frame["_line_number"] = range(1, len(frame) + 1)
    frame = frame[[c for c in columns if c in mapping.declared_sources] + ["_line_number"]]
    con.register("_db_batch", frame)
    con.execute(f"create or replace temp table {SCRATCH}_data as select * from _db_batch")
    con.unregister("_db_batch")
    finish_scratch(con, mapping, name, SCRATCH, None, [])

    def move_mark(tx: duckdb.DuckDBPyConnection, _: LoadResult) -> None:
        if mark is not None:
            tx.execute(
                "insert or replace into ops.source_state values ($s, $m, $t)",
                {"s": mapping.name, "m": mark, "t": now()},
            )

    return load_scratch(
        con,
        mapping,
        name=name,
        load_id=load_id,
        sha=sha,
        size=0,
        rejects=[],
        run_id=run_id,
        started=started,
        pii_key=pii_key,
        options=options,
        in_transaction=move_mark,
    )
