"""Open the warehouse: one place that knows how, no connection kept between calls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from segments.settings import Settings


def connect_path(
    path: Path | str,
    *,
    read_only: bool = False,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with the session settings the pipeline relies on."""
    config: dict[str, str | int] = {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only, config=config)
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
