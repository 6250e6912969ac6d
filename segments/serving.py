"""Reader copies of the marts: a new serving.duckdb and Parquet partitions, renamed into place.

DuckDB allows one writing process or many readers, never both, so BI tools read these copies
and never the working warehouse. Every file is first written under a temporary name beside its
target and synced; only then are they renamed (os.replace: atomic on POSIX, and a reader that
already opened the old file keeps reading the old inode). A run killed before the renames
leaves every served file as it was; the next publish removes its leftovers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from segments.settings import Settings

TMP_MARK = ".tmp-"
# Rewritten in place by each publish (rows get closed), so one whole file, not as_of slices.
WHOLE_TABLES = frozenset({"segment_history"})
SERVING_ALIAS = "serving_next"


@dataclass
class StagedFiles:
    """Files written under temporary names, waiting to be renamed onto their targets."""

    pairs: list[tuple[Path, Path]] = field(default_factory=list)

    def add(self, tmp: Path, target: Path) -> None:
        _fsync(tmp)
        self.pairs.append((tmp, target))

    def swap(self) -> list[Path]:
        """Rename every staged file onto its target, in order; returns the targets."""
        for tmp, target in self.pairs:
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        return [target for _, target in self.pairs]


def tmp_name(target: Path, run_id: str) -> Path:
    """A hidden sibling: same filesystem (so rename is atomic), ignored by Parquet readers."""
    return target.parent / f".{target.name}{TMP_MARK}{run_id}"


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a crash right after it must not undo it)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def stage_lake(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    staged: StagedFiles,
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
        staged.add(tmp, target)


def stage_serving(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    staged: StagedFiles,
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
    staged.add(tmp, target)


def remove_leftovers(settings: Settings) -> list[Path]:
    """Temporary files of killed publishes (safe: the warehouse lock means one publisher)."""
    removed = []
    candidates = [
        *settings.home.glob(f".*{TMP_MARK}*"),
        *(settings.lake_dir / "marts").glob(f"**/.*{TMP_MARK}*"),
        *settings.exports_dir.glob(f".*{TMP_MARK}*"),
    ]
    for path in candidates:
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
            if path.parent.name.startswith("as_of=") and not any(path.parent.iterdir()):
                path.parent.rmdir()  # a partition folder created only for the tmp file
    return removed
