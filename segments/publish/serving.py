"""serving.duckdb and the lake Parquet of the marts: the copies BI tools read.

DuckDB allows one writing process or many readers, never both, so BI tools read these copies
and never the working warehouse. Both are written as pending files (publish/pending.py) and
renamed into place together with the CRM exports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from segments.publish.pending import PendingFiles, tmp_name
from segments.settings import Settings

# Rewritten in place by each publish (rows get closed; matured retention is filled in), so
# one whole file, not as_of slices.
WHOLE_TABLES = frozenset({"segment_history", "segment_kpis"})
SERVING_ALIAS = "serving_next"


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table of the marts schema: what BI tools read (discovered, never listed here)."""
    return [
        row[0]
        for row in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall()
    ]


def lake_target(settings: Settings, table: str, as_of: date) -> Path:
    """lake/marts/<table>/as_of=YYYY-MM-DD/data.parquet (one whole file for WHOLE_TABLES)."""
    folder = settings.lake_dir / "marts" / table
    if table not in WHOLE_TABLES:
        folder = folder / f"as_of={as_of.isoformat()}"
    return folder / "data.parquet"


def write_lake_files(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    pending: PendingFiles,
    *,
    run_id: str,
    as_of: date,
) -> None:
    """This publish's rows of every mart as Parquet, hive style (as_of lives in the folder name,
    not in the file: pyarrow, pandas and Spark refuse a column that is also a partition key)."""
    for table in mart_tables(con):
        target = lake_target(settings, table, as_of)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_name(target, run_id)
        if table in WHOLE_TABLES:
            query, params = f"select * from marts.{table}", {}
        else:
            query = f"select * exclude (as_of) from marts.{table} where as_of = $as_of"
            params = {"as_of": as_of}
        con.execute(f"copy ({query}) to $path (format parquet)", {**params, "path": str(tmp)})
        pending.add(tmp, target)


def write_serving_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    pending: PendingFiles,
    *,
    run_id: str,
    model_version: str,
    on_table: Callable[[str], None] | None = None,
) -> None:
    """A complete new serving database: every mart, every seed table and this run's metadata.

    on_table is called after each table is copied (progress for logs and kill tests).
    """
    target = settings.serving_path
    tmp = tmp_name(target, run_id)
    tmp.unlink(missing_ok=True)
    literal = str(tmp).replace("'", "''")  # ATTACH takes no parameters; the path is ours
    con.execute(f"attach '{literal}' as {SERVING_ALIAS}")
    try:
        for table in mart_tables(con):
            con.execute(f"create table {SERVING_ALIAS}.{table} as select * from marts.{table}")
            if on_table:
                on_table(table)
        for (table,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'seeds' order by 1"
        ).fetchall():
            con.execute(f"create table {SERVING_ALIAS}.{table} as select * from seeds.{table}")
        # run metadata: the stages of the run that published, and the model that scored it
        con.execute(
            f"create table {SERVING_ALIAS}.runs as select * from ops.runs "
            "where run_id = $run_id order by started_at",
            {"run_id": run_id},
        )
        con.execute(
            f"create table {SERVING_ALIAS}.model_registry as select * from "
            "ops.model_registry where model_version = $v",
            {"v": model_version},
        )
        # everything into the main file: a rename must not leave data behind in a .wal
        con.execute(f"checkpoint {SERVING_ALIAS}")
    finally:
        con.execute(f"detach {SERVING_ALIAS}")
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        raise RuntimeError(
            f"{wal} left after checkpoint; serving file not swapped, the previous one stays served"
        )
    pending.add(tmp, target)
