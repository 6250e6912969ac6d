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


_MANIFEST = "_loads.parquet"  # per split table: the loads written, with their fingerprints


def _fingerprints(con: duckdb.DuckDBPyConnection, select: str) -> dict[str, tuple[int, int]]:
    rows = con.execute(
        f"select load_id, count(*), sum(line_number) from ({select}) group by load_id"
    ).fetchall()
    return {load_id: (int(n), int(total or 0)) for load_id, n, total in rows}


def _written(con: duckdb.DuckDBPyConnection, url: str, partitions: int) -> dict[str, tuple]:
    """The loads a split already holds for this bucket count (none: split everything)."""
    manifest = lake_url(url, _MANIFEST)
    if not exists(manifest):
        return {}
    rows = con.execute(
        "select load_id, source_rows, line_number_sum, partitions from read_parquet($path)",
        {"path": duckdb_path(manifest)},
    ).fetchall()
    if any(row[3] != partitions for row in rows):
        return {}
    return {load_id: (int(n), int(total)) for load_id, n, total, _ in rows}


def write_buckets_by_load(
    con: duckdb.DuckDBPyConnection, select: str, url: str, partitions: int
) -> dict[str, int]:
    """The rows of `select` split into url/load_id=L/bucket=B/, writing only the loads that
    are new or changed since the last split (a load is recognised, as by the incremental
    models, by its row count and sum of line numbers) and removing the loads now gone; an
    empty url/_empty/bucket=B/ keeps every bucket readable before any load. A relation
    without load_id and line_number is split whole, into url/all/bucket=B/."""
    columns = {row[0] for row in con.execute(f"describe {select}").fetchall()}
    if not {"load_id", "line_number"} <= columns:  # not kept by load (one row a customer)
        remove_tree(url)
        write_buckets(con, select, {}, lake_url(url, "all"), partitions)
        return {"loads_written": 0, "loads_removed": 0, "whole": True}
    current = _fingerprints(con, select)
    written = _written(con, url, partitions)
    if not written:
        remove_tree(url)  # another bucket count, or the layout before loads: start over
    changed = sorted(load for load, print_ in current.items() if written.get(load) != print_)
    for load in changed:
        write_buckets(
            con,
            f"select * from ({select}) where load_id = $load",
            {"load": load},
            lake_url(url, f"load_id={load}"),
            partitions,
        )
    for load in sorted(set(written) - set(current)):
        remove_tree(lake_url(url, f"load_id={load}"))
    write_buckets(
        con, f"select * from ({select}) where false", {}, lake_url(url, "_empty"), partitions
    )
    rows = [[load, n, total, partitions] for load, (n, total) in sorted(current.items())]
    con.execute(
        "create or replace temp table _split_loads (load_id varchar, source_rows bigint, "
        "line_number_sum hugeint, partitions integer)"
    )
    if rows:
        con.executemany("insert into _split_loads values (?, ?, ?, ?)", rows)
    con.execute(
        "copy _split_loads to $path (format parquet)",
        {"path": duckdb_path(lake_url(url, _MANIFEST))},
    )
    con.execute("drop table _split_loads")
    return {"loads_written": len(changed), "loads_removed": len(set(written) - set(current))}


def split_glob(settings: Settings, bucket: int, *parts: str) -> str:
    """Every Parquet file of one bucket of a relation split by `write_buckets_by_load`."""
    return duckdb_path(bucket_url(settings, *parts, "*", f"bucket={bucket}", "*.parquet"))
