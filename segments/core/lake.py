"""Parquet copies of whole relations in the lake, written beside their target and renamed."""

from __future__ import annotations

from pathlib import Path

import duckdb


def export_table(con: duckdb.DuckDBPyConnection, relation: str, folder: Path) -> Path:
    """folder/data.parquet holding the whole relation; a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "data.parquet"
    tmp = folder / ".data.parquet.tmp"
    con.execute(f"copy (select * from {relation}) to $path (format parquet)", {"path": str(tmp)})
    tmp.replace(target)
    return target
