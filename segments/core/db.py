"""Open the warehouse: one place that knows how, no connection kept between calls."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from segments.core.errors import BusyError
from segments.settings import Settings

# DuckDB: 'Could not set lock on file "...": Conflicting lock is held in /usr/bin/x (PID 12)'
_CONFLICT = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
BUSY_WAIT_S = 5.0  # a reader that is about to close; longer holders are a failure to report


class DatabaseBusyError(BusyError):
    """Another process holds the DuckDB file open (DuckDB: one writer, or only readers)."""


def busy_error(path: Path | str, error: duckdb.Error) -> DatabaseBusyError | None:
    """The clear error for DuckDB's lock conflict, or None when `error` is something else."""
    match = _CONFLICT.search(str(error))
    if match is None:
        return None
    return DatabaseBusyError(
        f"{path} is held open by another process ({match['program']}, PID {match['pid']}); "
        "close it and retry. BI tools and notebooks read serving.duckdb, never the warehouse"
    )


def connect_path(
    path: Path | str,
    *,
    read_only: bool = False,
    threads: int | None = None,
    memory_limit: str | None = None,
    busy_wait_s: float = BUSY_WAIT_S,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with the session settings the pipeline relies on.

    A file held by another process is retried for busy_wait_s, then a DatabaseBusyError
    names the process (instead of DuckDB's IO error).
    """
    config: dict[str, str | int] = {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + busy_wait_s
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            break
        except duckdb.IOException as error:
            busy = busy_error(path, error)
            if busy is None:
                raise
            if time.monotonic() >= deadline:
                raise busy from None
            time.sleep(0.25)
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    return con


@contextmanager
def connect(settings: Settings, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection to the working warehouse and always close it."""
    con = connect_path(
        settings.warehouse_path,
        read_only=read_only,
        threads=settings.threads,
        memory_limit=settings.memory_limit,
    )
    try:
        yield con
    finally:
        con.close()
