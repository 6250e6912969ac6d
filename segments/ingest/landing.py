"""What a run or a command loads: landing folders, one path, database sources; then staging.

Every new landing file of every built-in source goes through its mapping. Nothing one file
or one mapping does can stop the others: each failure is an ops.loads row with the reason.
A landing file that loaded moves to `landing/<source>/_processed/` (deleted after
SEGMENTS_PROCESSED_RETENTION_DAYS); one that failed moves to `landing/<source>/_rejected/`.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import yaml

from segments.core.lake import export_by_load, export_table
from segments.core.pii import load_key
from segments.core.recordfiles import TextLayout
from segments.core.sql import run_layer
from segments.core.suppression import purge_suppressed
from segments.ingest.files import ingest_file
from segments.ingest.loads import LoadOptions, LoadResult, Progress, record_failure
from segments.ingest.mapping_schema import MappingError
from segments.ingest.readers import first_line_of
from segments.ingest.sources import (
    SourceMapping,
    builtin_mappings,
    load_mapping,
    mapping_files,
    resolve_mapping,
)
from segments.settings import Settings

# Staging tables that loads append to (the rest of staging is rebuilt from them by SQL).
STAGING_TABLES = ("stg_transactions", "customer_versions", "stg_events", "stg_campaigns")
REJECTED = "_rejected"  # landing/<source>/_rejected/: files that could not be loaded
PROCESSED = "_processed"  # landing/<source>/_processed/: loaded files, kept for a while


def load_options(settings: Settings, progress: Progress | None = None) -> LoadOptions:
    """How the pipeline loads: its SQL, lake, date floor and quarantine limit from settings."""
    return LoadOptions(
        sql_dir=settings.sql_dir,
        lake_dir=settings.lake_dir,
        date_floor=settings.date_floor,
        max_quarantine_share=settings.max_quarantine_share,
        progress=progress,
    )


def landing_files(landing_dir: Path, mapping: SourceMapping) -> list[Path]:
    """Entries waiting for one source, in name order so loads are reproducible.

    Broken symbolic links are included (they fail with a reason); folders such as
    `_rejected/` and `_processed/`, and hidden files, are not.
    """
    folder = landing_dir / mapping.name
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.glob(mapping.file_pattern)
        if not p.name.startswith((".", "_"))
        and (p.is_file() or (p.is_symlink() and not p.exists()))
    )


def _set_aside(path: Path, folder: str) -> None:
    """Move a landing file (or a broken link) into a subfolder, stamped with the move time."""
    target = path.parent / folder / path.name
    target.parent.mkdir(exist_ok=True)
    os.replace(path, target)
    if not target.is_symlink():
        os.utime(target)  # retention counts from the load, not from the export


def _progress_for(progress: Progress | None, index: int, total: int, name: str) -> Progress | None:
    """A file's progress as a share of all the files of this call."""
    if progress is None:
        return None
    return lambda what, done: progress(f"{name}: {what}", (index + done) / total)


def _load_files(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    files: list[Path],
    *,
    run_id: str,
    settings: Settings,
    set_aside: bool = False,
    progress: Progress | None = None,
) -> list[LoadResult]:
    """Each file through one mapping (the key is read once, and only when there is a file)."""
    if not files:
        return []
    key = load_key(settings)
    options = load_options(settings)
    results = []
    for index, path in enumerate(files):
        opts = replace(options, progress=_progress_for(progress, index, len(files), path.name))
        if path.is_symlink() and not path.exists():
            result = record_failure(
                con,
                mapping.name,
                mapping.entity,
                path.name,
                f"{path}: a broken symbolic link (its target {os.readlink(path)} is gone); "
                "replace it with the file",
                run_id,
            )
        else:
            try:
                result = ingest_file(con, mapping, path, run_id=run_id, pii_key=key, options=opts)
            except Exception as exc:  # noqa: BLE001 - whatever one file does, the rest go on
                result = record_failure(
                    con,
                    mapping.name,
                    mapping.entity,
                    path.name,
                    f"{path}: load failed ({first_line_of(exc)}); nothing was staged",
                    run_id,
                )
        results.append(result)
        if set_aside:
            _set_aside(path, REJECTED if result.status == "failed" else PROCESSED)
    return results


def ingest_path(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    path: Path,
    *,
    run_id: str,
    settings: Settings,
    progress: Progress | None = None,
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
    return _load_files(con, mapping, files, run_id=run_id, settings=settings, progress=progress)


def _mapping_name(path: Path) -> str:
    """The source name of a mapping file that does not load: its `name`, else its stem."""
    try:
        name = (yaml.safe_load(path.read_text()) or {}).get("name")
    except Exception:  # noqa: BLE001 - the file is broken; its stem names the folder
        name = None
    return name if isinstance(name, str) and name else path.stem


def ingest_landing(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    progress: Progress | None = None,
) -> list[LoadResult]:
    """Load every new landing file of every built-in source; one bad file or mapping never
    stops the rest. Loaded files move to _processed/, failed ones to _rejected/."""
    results: list[LoadResult] = []
    for mapping_path in mapping_files(settings.sql_dir):
        try:
            mapping = load_mapping(mapping_path)
        except MappingError as exc:  # its files wait in landing until the mapping is fixed
            results += _mapping_failed(con, settings, _mapping_name(mapping_path), exc, run_id)
            continue
        if mapping.database is not None:  # read incrementally from its updated-at mark
            results.extend(_ingest_database_safely(con, mapping, settings, run_id))
            continue
        files = landing_files(settings.landing_dir, mapping)
        results.extend(
            _load_files(
                con,
                mapping,
                files,
                run_id=run_id,
                settings=settings,
                set_aside=True,
                progress=progress,
            )
        )
    remove_expired(settings)
    return results


def _mapping_failed(
    con: duckdb.DuckDBPyConnection, settings: Settings, name: str, exc: Exception, run_id: str
) -> list[LoadResult]:
    """A mapping that does not load fails each of its landing files, which stay in place."""
    folder = settings.landing_dir / name
    files = (
        sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith("."))
        if folder.is_dir()
        else []
    )
    return [
        record_failure(
            con,
            name,
            "unknown",
            p.name,
            f"{exc} (the file stays in landing/{name}/ until the mapping is fixed)",
            run_id,
        )
        for p in files
    ]


def remove_expired(settings: Settings) -> list[Path]:
    """Delete processed landing files older than SEGMENTS_PROCESSED_RETENTION_DAYS."""
    cutoff = time.time() - settings.processed_retention_days * 86_400
    removed = []
    for path in settings.landing_dir.glob(f"*/{PROCESSED}/*"):
        if path.is_symlink() or (path.is_file() and path.stat().st_mtime <= cutoff):
            path.unlink()
            removed.append(path)
    return removed


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
        options=load_options(settings),
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
        m.columns["customer_id"].source
        for m in mappings
        if "customer_id" in m.columns and m.columns["customer_id"].source
    )
    layouts = [
        TextLayout(
            m.csv.delimiter,
            m.csv.quote,
            m.csv.escape,
            m.csv.encoding,
            m.csv.header,
            m.csv.skip_rows,
        )
        for m in mappings
    ]
    return ids, layouts


def refresh_staging(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    """Rebuild derived staging relations and write the staging lake copies.

    The tables loads append to are copied one file per load, and only the new loads' files
    are written (their cost follows the night, not the history); the small derived
    relations are copied whole.
    """
    counts = run_layer(con, settings.sql_dir, "staging")
    for table in STAGING_TABLES:
        export_by_load(con, f"staging.{table}", settings.lake_dir / "staging" / table)
    for table in counts:
        export_table(con, f"staging.{table}", settings.lake_dir / "staging" / table)
    for table in (*STAGING_TABLES, *counts):
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


def ingest_landing_stage(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    progress: Progress | None = None,
) -> dict:
    """The ingest stage of a run: new landing files, then staging rebuilt; its details."""
    details: dict[str, object] = summarise_loads(ingest_landing(con, settings, run_id, progress))
    keep_erased_out(con, settings, run_id)
    details["staging_rows"] = refresh_staging(con, settings)
    return details


def ingest_one(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    source: str,
    path: Path,
    run_id: str,
    progress: Progress | None = None,
) -> list[LoadResult]:
    """`segments ingest SOURCE PATH`: one file or folder through a named mapping, then staging."""
    mapping = resolve_mapping(source, settings.sql_dir)
    results = ingest_path(
        con, mapping, Path(path), run_id=run_id, settings=settings, progress=progress
    )
    keep_erased_out(con, settings, run_id)
    refresh_staging(con, settings)
    return results
