"""Reconcile after a killed publish: the serving file says what was published.

A publish writes every reader file under a temporary name, writes a manifest, renames the
serving file (the commit point), the other files, and only then commits the warehouse marts.
The next run (every run's preamble, and every publish first) looks at what a killed one left:

- a manifest whose serving file was never renamed: nothing was published; the temporary
  files and the manifest go (the uncommitted marts were never written);
- a manifest whose serving file was renamed: readers see that publish, so it is finished:
  the remaining renames are done and the warehouse marts are set from the serving file;
- no manifest, but the warehouse's latest publish differs from the serving file's (a warehouse
  from before this protocol, or a commit that failed after the swap): the marts are set from
  the serving file, which is the source of truth for what is served.

Temporary files nobody lists are removed either way.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import duckdb

from segments.core.db import connect_path
from segments.publish.pending import manifest_path, read_manifest, remove_leftovers
from segments.publish.serving import copy_relation, mart_tables, migrate_lake_layout
from segments.settings import Settings

log = logging.getLogger(__name__)


def _latest_run(con: duckdb.DuckDBPyConnection, relation: str) -> str | None:
    try:
        row = con.execute(f"select run_id from {relation} order by as_of desc limit 1").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def restore_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """Set every mart the serving file holds to its copy there, in one transaction."""
    serving = connect_path(settings.serving_path, read_only=True)
    try:
        served = {
            t
            for (t,) in serving.execute(
                "select table_name from duckdb_tables() where schema_name = 'main'"
            ).fetchall()
        }
        tables = [t for t in mart_tables(con) if t in served]
        con.execute("begin transaction")
        try:
            for table in tables:
                copy_relation(serving, f"select * from {table}", None, con, f"_restored_{table}")
                con.execute(f"delete from marts.{table}")
                con.execute(f"insert into marts.{table} by name select * from _restored_{table}")
                con.execute(f"drop table _restored_{table}")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        serving.close()
    return tables


def reconcile(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    """Finish or undo a killed publish; returns what was done (empty when nothing was)."""
    done: dict[str, Any] = {}
    manifest = read_manifest(settings)
    if manifest is not None:
        serving = manifest.get("serving")
        pairs = [tuple(map(Path, p)) for p in manifest.get("pairs", [])]
        if serving and not Path(serving[0]).exists():  # renamed: the publish happened
            for tmp, target in pairs:
                if tmp.exists():
                    os.replace(tmp, target)
            done["finished_publish"] = manifest["run_id"]
        else:
            done["undone_publish"] = manifest.get("run_id")
        manifest_path(settings).unlink(missing_ok=True)
    if settings.serving_path.exists():
        with connect_path(settings.serving_path, read_only=True) as serving_con:
            served = _latest_run(serving_con, "publishes")
        # a finished publish may be a score-recent one, which leaves marts.publishes as it was
        finished = "finished_publish" in done
        if served is not None and (finished or served != _latest_run(con, "marts.publishes")):
            done["marts_restored_from_serving"] = restore_marts(con, settings)
            done["served_run"] = served
    leftovers = remove_leftovers(settings)
    if leftovers:
        done["temp_files_removed"] = len(leftovers)
    migrated = migrate_lake_layout(settings)
    if migrated:
        done["lake_files_moved_to_0_3_layout"] = migrated
    if done:
        log.warning("recovered the published files: %s", done)
    return done


def recover_published(settings: Settings) -> dict[str, Any]:
    """The run preamble's step: reconcile with a connection of its own."""
    from segments.core.db import connect

    with connect(settings) as con:
        return reconcile(con, settings)


def prepare_and_recover(settings: Settings) -> None:
    """Every run's preamble: schema and migrations, then finish or undo a killed publish.

    A plain function here, not in tasks/, so the commands that run no flow (`segments ingest`,
    `forget`, `rebuild` ...) do not import Prefect for it (seconds of each command's start).
    """
    from segments.core.warehouse import prepare_warehouse

    prepare_warehouse(settings)
    recover_published(settings)
