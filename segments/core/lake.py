"""Parquet copies of whole relations in the lake, written beside their target and renamed;
and the lake's addresses as fsspec-style URLs (a path, file://, s3://, gs://, abfs://), so
the bucket lake that Dask workers share can live on object storage."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import duckdb
import fsspec


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
