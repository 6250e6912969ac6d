"""The bucket lake: where each bucket's Parquet lives, writing a relation split by bucket,
and an in-memory DuckDB for a worker (no warehouse file: workers write Parquet only)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from segments.core.db import connect_path
from segments.core.lake import duckdb_path, exists, lake_url, make_folder, remove_tree
from segments.core.sql import model_paths
from segments.settings import Settings

_STAGING_READ = re.compile(r"\bstaging\.([a-z][a-z0-9_]*)\b")


def bucket_sources(sql_dir: Path) -> list[str]:
    """The staging tables the feature layer reads (derived from its SQL, never listed)."""
    names: set[str] = set()
    for path in model_paths(sql_dir, "features").values():
        names |= set(_STAGING_READ.findall(path.read_text()))
    return sorted(names)


def bucket_url(settings: Settings, *parts: str) -> str:
    """An address in the bucket lake (SEGMENTS_BUCKET_LAKE, default SEGMENTS_HOME/lake/buckets)."""
    return lake_url(settings.bucket_lake_url, *parts)


def bucket_file(settings: Settings, bucket: int, *parts: str) -> str:
    """The one Parquet file a worker writes for its bucket under `parts`."""
    return bucket_url(settings, *parts, f"bucket={bucket}", "data.parquet")


def bucket_glob(settings: Settings, bucket: int, *parts: str) -> str:
    """Every Parquet file of one bucket of a relation written by `write_buckets`."""
    return duckdb_path(bucket_url(settings, *parts, f"bucket={bucket}", "*.parquet"))


def write_buckets(
    con: duckdb.DuckDBPyConnection,
    select: str,
    params: Mapping[str, Any],
    url: str,
    partitions: int,
) -> None:
    """The rows of `select` split into url/bucket=B/ by customer_bucket (hive layout), every
    bucket present (an empty one gets an empty file with the columns), old files gone."""
    remove_tree(url)
    make_folder(url)
    bucketed = f"select *, customer_bucket(customer_id, $partitions) as bucket from ({select})"
    con.execute(
        f"copy ({bucketed}) to $path (format parquet, partition_by (bucket), "
        "filename_pattern 'data_{i}', overwrite_or_ignore true)",
        {**params, "partitions": partitions, "path": duckdb_path(url)},
    )
    for bucket in range(partitions):
        folder = lake_url(url, f"bucket={bucket}")
        if not exists(folder):
            make_folder(folder)
            con.execute(
                f"copy (select * from ({select}) where false) to $path (format parquet)",
                {**params, "path": duckdb_path(lake_url(folder, "data_0.parquet"))},
            )


def write_file(con: duckdb.DuckDBPyConnection, relation: str, url: str) -> None:
    """A relation of a worker's DuckDB as one Parquet file of the bucket lake."""
    make_folder(url.rsplit("/", 1)[0])
    con.execute(
        f"copy (select * from {relation}) to $path (format parquet)", {"path": duckdb_path(url)}
    )


def load_table(con: duckdb.DuckDBPyConnection, relation: str, files: str | list[str]) -> int:
    """relation := the rows of Parquet files (a glob or a list), the lake's columns as written."""
    con.execute(f"create schema if not exists {relation.split('.')[0]}")
    con.execute(
        f"create or replace table {relation} as "
        "select * from read_parquet($files, hive_partitioning = false)",
        {"files": files},
    )
    return con.execute(f"select count(*) from {relation}").fetchone()[0]


def worker_connection(settings: Settings, threads: int | None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one bucket (spills past SEGMENTS_MEMORY_LIMIT like the warehouse)."""
    return connect_path(":memory:", threads=threads, memory_limit=settings.memory_limit)


def worker_threads(settings: Settings, workers: int) -> int | None:
    """DuckDB threads per bucket task: SEGMENTS_THREADS, else the machine's cores shared by
    the local workers (workers run one task at a time, so nothing is oversubscribed)."""
    if settings.threads:
        return settings.threads
    return max(1, (os.cpu_count() or 1) // max(1, workers))
