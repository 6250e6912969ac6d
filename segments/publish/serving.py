"""serving.duckdb and the lake Parquet of the marts: the copies BI tools read.

DuckDB allows one writing process or many readers, never both, so BI tools read these copies
and never the working warehouse. Both are written as pending files (publish/pending.py) and
renamed into place together with the CRM exports. The serving file is written through a
second connection of its own (rows streamed as Arrow batches from the publish transaction),
so no path is ever put into SQL text and it can be written before the marts commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from segments.core.db import connect_path
from segments.publish.comments import apply_comments
from segments.publish.pending import PendingFiles, tmp_name
from segments.settings import Settings

# Rewritten in place by each publish (rows get closed; matured retention is filled in), so
# one whole file, not as_of slices.
WHOLE_TABLES = frozenset({"segment_history", "segment_kpis"})
BATCH_ROWS = 100_000


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table of the marts schema: what BI tools read (discovered, never listed here)."""
    return [
        row[0]
        for row in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall()
    ]


def lake_target(settings: Settings, table: str, as_of: date) -> Path:
    """lake/marts/<table>/as_of=YYYY-MM-DD.parquet (one whole data.parquet for WHOLE_TABLES)."""
    folder = settings.lake_dir / "marts" / table
    if table in WHOLE_TABLES:
        return folder / "data.parquet"
    return folder / f"as_of={as_of.isoformat()}.parquet"


def lake_dates(settings: Settings, table: str) -> list[date]:
    """as_of dates with a file of `table` in the lake, oldest first."""
    folder = settings.lake_dir / "marts" / table
    return sorted(
        date.fromisoformat(p.name.removeprefix("as_of=").removesuffix(".parquet"))
        for p in folder.glob("as_of=*.parquet")
    )


def write_lake_files(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    pending: PendingFiles,
    *,
    run_id: str,
    as_of: date,
) -> None:
    """This publish's rows of every mart as Parquet: one file per publish in the table's folder.

    Each file holds `as_of` as a DATE column and the folder has no `key=value` subfolders, so
    any reader of the folder (pandas, pyarrow, DuckDB, Spark, Power BI) gets as_of as a date
    with no partitioning option to set (hive folders made pyarrow read it as text).
    """
    for table in mart_tables(con):
        target = lake_target(settings, table, as_of)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_name(target, run_id)
        if table in WHOLE_TABLES:
            query, params = f"select * from marts.{table}", {}
        else:
            query = f"select * from marts.{table} where as_of = $as_of"
            params = {"as_of": as_of}
        con.execute(f"copy ({query}) to $path (format parquet)", {**params, "path": str(tmp)})
        pending.add(tmp, target)


def copy_relation(
    source: duckdb.DuckDBPyConnection,
    query: str,
    params: dict[str, object] | None,
    target: duckdb.DuckDBPyConnection,
    table: str,
) -> None:
    """Stream a query's rows from one connection into a new table of another, in batches."""
    reader = source.execute(query, params or {}).fetch_record_batch(BATCH_ROWS)
    target.register("_incoming", reader)
    try:
        target.execute(f"create or replace table {table} as select * from _incoming")
    finally:
        target.unregister("_incoming")


def write_serving_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    pending: PendingFiles,
    *,
    run_id: str,
    model_version: str,
    on_table: Callable[[str], None] | None = None,
) -> None:
    """A complete new serving database: every mart, every seed table and this run's metadata,
    each table and column commented from warehouse/columns.yaml.

    on_table is called after each table is copied (progress for logs and kill tests).
    """
    target = settings.serving_path
    tmp = tmp_name(target, run_id)
    tmp.unlink(missing_ok=True)
    tables: list[tuple[str, str, dict[str, object]]] = [
        (table, f"select * from marts.{table}", {}) for table in mart_tables(con)
    ]
    tables += [
        (table, f"select * from seeds.{table}", {})
        for (table,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'seeds' order by 1"
        ).fetchall()
    ]
    # run metadata: the stages of the run that published, and the model that scored it
    tables += [
        (
            "runs",
            "select * from ops.runs where run_id = $run_id order by started_at",
            {"run_id": run_id},
        ),
        (
            "model_registry",
            "select * from ops.model_registry where model_version = $v",
            {"v": model_version},
        ),
    ]
    out = connect_path(tmp, threads=settings.threads, memory_limit=settings.memory_limit)
    try:
        for table, query, params in tables:
            copy_relation(con, query, params, out, table)
            if on_table:
                on_table(table)
        apply_comments(
            out, settings.sql_dir, [t for t, _, _ in tables], currency=settings.currency
        )
        out.execute("checkpoint")  # everything into the main file: a rename must not leave a .wal
    finally:
        out.close()
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        raise RuntimeError(
            f"{wal} left after checkpoint; serving file not swapped, the previous one stays served"
        )
    pending.add(tmp, target, serving=True)


def migrate_lake_layout(settings: Settings) -> int:
    """0.3.0: move lake/marts/<t>/as_of=D/data.parquet to <t>/as_of=D.parquet with as_of in it.

    Idempotent (nothing left to move: nothing done); the caller holds the warehouse lock.
    """
    files = sorted((settings.lake_dir / "marts").glob("*/as_of=*/data.parquet"))
    with duckdb.connect() as con:
        for path in files:
            as_of = date.fromisoformat(path.parent.name.removeprefix("as_of="))
            target = lake_target(settings, path.parent.parent.name, as_of)
            tmp = tmp_name(target, "migrate")
            columns = {
                row[0]
                for row in con.execute(
                    "select name from parquet_schema($path)", {"path": str(path)}
                ).fetchall()
            }
            query = "select * from read_parquet($path, hive_partitioning = false)"
            if "as_of" not in columns:
                query = (
                    "select *, $as_of::date as as_of from "
                    "read_parquet($path, hive_partitioning = false)"
                )
            params = {"path": str(path), "tmp": str(tmp)}
            if "as_of" not in columns:
                params["as_of"] = as_of
            con.execute(f"copy ({query}) to $tmp (format parquet)", params)
            tmp.replace(target)
            path.unlink()
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
    return len(files)
