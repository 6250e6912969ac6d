"""Parquet copies of relations in the lake (whole, or one file per load), written beside
their target and renamed; and the lake's addresses as fsspec-style URLs (a path, file://,
s3://, gs://, abfs://), so the bucket lake that Dask workers share can live on object storage."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import duckdb
import fsspec

LOAD_FOLDER = "load_id="  # lake/<layer>/<table>/load_id=<id>/data.parquet
NO_LOAD = "__HIVE_DEFAULT_PARTITION__"  # rows without a load id (hive readers: NULL)


def export_table(con: duckdb.DuckDBPyConnection, relation: str, folder: Path) -> Path:
    """folder/data.parquet holding the whole relation; a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "data.parquet"
    tmp = folder / ".data.parquet.tmp"
    con.execute(f"copy (select * from {relation}) to $path (format parquet)", {"path": str(tmp)})
    tmp.replace(target)
    return target


def lake_url(root: str, *parts: str) -> str:
    """root/part/...: a local path stays a path, a URL stays a URL (one `/` between parts)."""
    return "/".join([root.rstrip("/"), *(part.strip("/") for part in parts)])


def duckdb_path(url: str) -> str:
    """What DuckDB reads and writes: a local path for file:// URLs (percent-decoded) and
    paths; other URLs as they are (s3://, gs://, az:// need DuckDB's httpfs/azure extension
    and credentials there)."""
    if url.startswith("file://"):
        return url2pathname(urlparse(url).path)
    return url


def is_local(url: str) -> bool:
    """A path or file:// URL (workers on one machine, or a shared mount)."""
    return "://" not in url or url.startswith("file://")


def make_folder(url: str) -> None:
    """Create a folder for DuckDB to write into (object stores need none)."""
    if is_local(url):
        Path(duckdb_path(url)).mkdir(parents=True, exist_ok=True)


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem of a lake address (a local one for paths and file://)."""
    if is_local(url):
        return fsspec.filesystem("file"), duckdb_path(url)
    return fsspec.core.url_to_fs(url)


def remove_tree(url: str) -> None:
    """Delete a folder of the lake and everything under it, if it exists (via fsspec)."""
    fs, path = _fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def exists(url: str) -> bool:
    """Whether a file or folder of the lake exists (via fsspec)."""
    fs, path = _fs(url)
    return bool(fs.exists(path))


def _write(con: duckdb.DuckDBPyConnection, select: str, params: dict, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(".data.parquet.tmp")
    con.execute(f"copy ({select}) to $path (format parquet)", {**params, "path": str(tmp)})
    tmp.replace(target)


def _on_disk(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Rows of each load's file already in the lake (Parquet footers only, no data read)."""
    files = sorted(folder.glob(f"{LOAD_FOLDER}*/data.parquet"))
    if not files:
        return {}
    rows = con.execute(
        "select file_name, num_rows from parquet_file_metadata($files)",
        {"files": [str(f) for f in files]},
    ).fetchall()
    return {Path(name).parent.name.removeprefix(LOAD_FOLDER): int(n) for name, n in rows}


def _same_columns(con: duckdb.DuckDBPyConnection, relation: str, folder: Path) -> bool:
    """Whether the files carry the relation's columns (a migration renames them in place)."""
    first = next(iter(sorted(folder.glob(f"{LOAD_FOLDER}*/data.parquet"))), None)
    if first is None:
        return True
    want = [r[0] for r in con.execute(f"describe {relation}").fetchall()]
    have = [r[0] for r in con.execute("describe select * from read_parquet($p)", {"p": str(first)})
            .fetchall()]  # fmt: skip
    return want == have


def export_by_load(con: duckdb.DuckDBPyConnection, relation: str, folder: Path) -> int:
    """folder/load_id=<id>/data.parquet per load of the relation; returns the files written.

    A staged load's rows never change in place, only go (superseded, erased), so a night
    writes only its new loads' files and removes those of loads that left: the cost follows
    the new rows, not the history. A file whose row count differs from its load's (or any
    file after a column rename) is written again, so the lake always equals the relation.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.parquet").unlink(missing_ok=True)  # the whole-table file of older versions
    counts = dict(
        con.execute(
            f"select coalesce(load_id, '{NO_LOAD}'), count(*) from {relation} group by all"
        ).fetchall()
    )
    disk = _on_disk(con, folder) if _same_columns(con, relation, folder) else {}
    written = 0
    for load_id, n in sorted(counts.items()):
        if disk.get(load_id) == n and load_id != NO_LOAD:
            continue
        where = "load_id is null" if load_id == NO_LOAD else "load_id = $l"
        params = {} if load_id == NO_LOAD else {"l": load_id}
        target = folder / f"{LOAD_FOLDER}{load_id}" / "data.parquet"
        _write(con, f"select * from {relation} where {where}", params, target)
        written += 1
    for stale in folder.glob(f"{LOAD_FOLDER}*"):
        if stale.is_dir() and stale.name.removeprefix(LOAD_FOLDER) not in counts:
            shutil.rmtree(stale)
    return written
