"""What a run or a command loads: landing folders, one path, database sources; then staging.

Every new landing file of every built-in source goes through its mapping; one bad file or
unreachable database fails its own load (an ops.loads row), never the rest.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from segments.core.lake import export_table
from segments.core.pii import load_key
from segments.core.recordfiles import TextLayout
from segments.core.sql import run_layer
from segments.core.suppression import purge_suppressed
from segments.ingest.files import LoadResult, ingest_file
from segments.ingest.sources import SourceMapping, builtin_mappings, resolve_mapping
from segments.settings import Settings

# Staging tables that loads append to (the rest of staging is rebuilt from them by SQL).
STAGING_TABLES = ("stg_transactions", "customer_versions", "stg_events", "stg_campaigns")


def landing_files(landing_dir: Path, mapping: SourceMapping) -> list[Path]:
    """Files waiting for one source, in name order so loads are reproducible."""
    folder = landing_dir / mapping.name
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.glob(mapping.file_pattern) if p.is_file() and not p.name.startswith(".")
    )


def _load_files(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    files: list[Path],
    *,
    run_id: str,
    settings: Settings,
) -> list[LoadResult]:
    """Each file through one mapping (the key is read once, and only when there is a file)."""
    if not files:
        return []
    key = load_key(settings)
    return [
        ingest_file(
            con,
            mapping,
            path,
            run_id=run_id,
            pii_key=key,
            lake_dir=settings.lake_dir,
            date_floor=settings.date_floor,
        )
        for path in files
    ]


def ingest_path(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    path: Path,
    *,
    run_id: str,
    settings: Settings,
) -> list[LoadResult]:
    """Load one file, or every matching file of a folder, through one mapping."""
    if mapping.database is not None:  # a database source: PATH is not used
        return _ingest_database(con, mapping, settings, run_id)
    files = (
        sorted(p for p in path.glob(mapping.file_pattern) if p.is_file())
        if path.is_dir()
        else [path]
    )
    if not files:
        raise FileNotFoundError(f"{path}: no files matching {mapping.file_pattern!r} to load")
    return _load_files(con, mapping, files, run_id=run_id, settings=settings)


def ingest_landing(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str
) -> list[LoadResult]:
    """Load every new landing file of every built-in source; one bad file never stops the rest."""
    results: list[LoadResult] = []
    for mapping in builtin_mappings(settings.sql_dir).values():
        if mapping.database is not None:  # read incrementally from its updated-at mark
            results.extend(_ingest_database_safely(con, mapping, settings, run_id))
            continue
        files = landing_files(settings.landing_dir, mapping)
        results.extend(_load_files(con, mapping, files, run_id=run_id, settings=settings))
    return results


def _ingest_database(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, settings: Settings, run_id: str
) -> list[LoadResult]:
    """Read a database source incrementally (only its psycopg2/sqlite imports pay)."""
    from segments.ingest.database import ingest_database

    return ingest_database(
        con,
        mapping,
        run_id=run_id,
        pii_key=load_key(settings),
        lake_dir=settings.lake_dir,
        date_floor=settings.date_floor,
    )


def _ingest_database_safely(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, settings: Settings, run_id: str
) -> list[LoadResult]:
    """A database that cannot be reached fails its own load, not the other sources."""
    from segments.ingest.database import source_label

    try:
        return _ingest_database(con, mapping, settings, run_id)
    except Exception as exc:  # noqa: BLE001 - refused, bad credentials, missing table...
        return [
            LoadResult(
                f"{mapping.name}-unreachable",
                mapping.name,
                source_label(mapping.database),
                "failed",
                message=f"{mapping.name}: {type(exc).__name__}: {exc}"[:1000],
            )
        ]


def erasure_layouts(sql_dir: Path) -> tuple[frozenset[str], list[TextLayout]]:
    """Where the built-in sources keep customer ids, and how their files split (erasure)."""
    mappings = list(builtin_mappings(sql_dir).values())
    ids = frozenset(
        m.columns["customer_id"].source for m in mappings if "customer_id" in m.columns
    )
    layouts = [
        TextLayout(m.csv.delimiter, m.csv.quote, m.csv.escape, m.csv.encoding, m.csv.header)
        for m in mappings
    ]
    return ids, layouts


def refresh_staging(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    """Rebuild derived staging relations and write the staging lake copies."""
    counts = run_layer(con, settings.sql_dir, "staging")
    for table in (*STAGING_TABLES, *counts):
        export_table(con, f"staging.{table}", settings.lake_dir / "staging" / table)
        counts.setdefault(
            table, con.execute(f"select count(*) from staging.{table}").fetchone()[0]
        )
    return counts


def summarise_loads(results: list[LoadResult]) -> dict[str, object]:
    """Counts for the run summary."""
    return {
        "files_loaded": sum(r.status == "loaded" for r in results),
        "files_skipped": sum(r.status == "skipped" for r in results),
        "files_failed": sum(r.status == "failed" for r in results),
        "rows_read": sum(r.rows_read for r in results),
        "rows_staged": sum(r.rows_staged for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
        "duplicates": sum(r.duplicates for r in results),
        "rows_without_customer": sum(r.rows_without_customer for r in results),
        "failures": [r.message for r in results if r.status == "failed"],
    }


def keep_erased_out(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> None:
    """Erased customers stay erased: drop what this run's loads brought back (`forget`)."""
    id_columns, layouts = erasure_layouts(settings.sql_dir)
    purge_suppressed(con, settings, run_id, id_columns=id_columns, layouts=layouts)


def ingest_landing_stage(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> dict:
    """The ingest stage of a run: new landing files, then staging rebuilt; its details."""
    details: dict[str, object] = summarise_loads(ingest_landing(con, settings, run_id))
    keep_erased_out(con, settings, run_id)
    details["staging_rows"] = refresh_staging(con, settings)
    return details


def ingest_one(
    con: duckdb.DuckDBPyConnection, settings: Settings, source: str, path: Path, run_id: str
) -> list[LoadResult]:
    """`segments ingest SOURCE PATH`: one file or folder through a named mapping, then staging."""
    mapping = resolve_mapping(source, settings.sql_dir)
    results = ingest_path(con, mapping, Path(path), run_id=run_id, settings=settings)
    keep_erased_out(con, settings, run_id)
    refresh_staging(con, settings)
    return results
