"""Find strings anywhere under SEGMENTS_HOME: every table of every DuckDB file, every Parquet
file, and every other file (gzip decompressed, Excel unzipped). The proof of an erasure.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from segments.core.erasure import open_scratch, sql_literal

DUCKDB_SUFFIXES = (".duckdb", ".db")


@dataclass(frozen=True)
class Hit:
    """Where one needle (by its index, so a hit list never repeats the id) was found."""

    place: str
    needle: int
    count: int


def home_files(home: Path) -> Iterator[Path]:
    """Every regular file under home, in a stable order (symlinks are not followed)."""
    for path in sorted(home.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _count(con: duckdb.DuckDBPyConnection, source: str, columns: list[str], needles) -> list[int]:
    """Rows of `source` where any column (as text) contains each needle."""
    if not columns:
        return [0] * len(needles)
    parts = []
    for i in range(len(needles)):
        cond = " or ".join(f"contains({_q(c)}::varchar, $n{i})" for c in columns)
        parts.append(f"count(*) filter (where {cond})")
    params = {f"n{i}": n for i, n in enumerate(needles)}
    return list(con.execute(f"select {', '.join(parts)} from {source}", params).fetchone())


def scan_database(con, path: Path, label: str, needles: list[str]) -> list[Hit]:
    """Every table of one DuckDB file, attached read-only."""
    con.execute(f"attach {sql_literal(path)} as scan_db (read_only)")
    try:
        hits = []
        tables = con.execute(
            "select schema_name, table_name, list(column_name order by column_index) "
            "from duckdb_columns() where database_name = 'scan_db' group by all order by 1, 2"
        ).fetchall()
        for schema, table, columns in tables:
            counts = _count(con, f"scan_db.{_q(schema)}.{_q(table)}", columns, needles)
            hits += [Hit(f"{label}:{schema}.{table}", i, n) for i, n in enumerate(counts) if n]
        return hits
    finally:
        con.execute("detach scan_db")


def scan_parquet(con, path: Path, label: str, needles: list[str]) -> list[Hit]:
    relation = con.read_parquet(str(path), hive_partitioning=False)
    relation.create_view("_scan_parquet", replace=True)
    counts = _count(con, "_scan_parquet", relation.columns, needles)
    con.execute("drop view _scan_parquet")
    return [Hit(label, i, n) for i, n in enumerate(counts) if n]


def file_bytes(path: Path) -> list[bytes]:
    """The bytes a reader sees: gzip decompressed, each member of a zip (xlsx) unzipped."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return [gzip.decompress(data)]
        except (OSError, EOFError):
            return [data]
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as archive:
                return [archive.read(name) for name in archive.namelist()]
        except zipfile.BadZipFile:
            return [data]
    return [data]


def scan_file(path: Path, label: str, needles: list[str]) -> list[Hit]:
    hits = []
    for i, needle in enumerate(needles):
        count = sum(part.count(needle.encode()) for part in file_bytes(path))
        if count:
            hits.append(Hit(label, i, count))
    return hits


def is_database(path: Path) -> bool:
    if path.suffix not in DUCKDB_SUFFIXES:
        return False
    with path.open("rb") as handle:
        return handle.read(12)[8:12] == b"DUCK"


def scan_home(home: Path, needles: list[str]) -> list[Hit]:
    """Every place under home that still holds one of the needles (empty: none)."""
    hits: list[Hit] = []
    with open_scratch() as con:
        for path in home_files(home):
            label = str(path.relative_to(home))
            if is_database(path):
                hits += scan_database(con, path, label, needles)
            elif path.suffix == ".parquet":
                hits += scan_parquet(con, path, label, needles)
            else:
                hits += scan_file(path, label, needles)
    return hits
