"""One watch cycle's load: each ready file through its source mapping, then staging once.

The same public ingest functions the nightly run and `segments ingest` use (ingest_path per
file, refresh_staging after), so a watched file lands exactly as a nightly-loaded one would.
"""

from __future__ import annotations

import duckdb

from segments.ingest import LoadResult, builtin_mappings, ingest_path, refresh_staging
from segments.settings import Settings
from segments.watch.landing import LandedFile


def load_landed(
    con: duckdb.DuckDBPyConnection, settings: Settings, files: list[LandedFile], run_id: str
) -> list[LoadResult]:
    """Load the files (a bad one fails its own load, never the rest); refresh staging once."""
    mappings = builtin_mappings(settings.sql_dir)
    results: list[LoadResult] = []
    for landed in files:
        results.extend(
            ingest_path(
                con, mappings[landed.source], landed.path, run_id=run_id, settings=settings
            )
        )
    if any(r.status == "loaded" for r in results):
        refresh_staging(con, settings)
    return results


def load_event(result: LoadResult, run_id: str) -> dict | None:
    """The Prefect event a load emits (name, resource, payload), or None for a skipped file.

    `segments.load.completed` for a load that staged rows, `segments.load.failed` for a file
    that could not be loaded. Resource labels are strings (Prefect's rule); the payload
    carries the numbers a trigger's parameters can template.
    """
    if result.status not in ("loaded", "failed"):
        return None
    name = "segments.load.completed" if result.status == "loaded" else "segments.load.failed"
    return {
        "event": name,
        "resource": {
            "prefect.resource.id": f"segments.load.{result.load_id}",
            "prefect.resource.name": result.path,
            "segments.source": result.source,
            "segments.load-id": result.load_id,
            "segments.rows": str(result.rows_staged),
        },
        "related": [
            {
                "prefect.resource.id": f"segments.source.{result.source}",
                "prefect.resource.role": "source",
            },
        ],
        "payload": {
            "source": result.source,
            "load_id": result.load_id,
            "file": result.path,
            "rows": result.rows_staged,
            "rows_read": result.rows_read,
            "rows_quarantined": result.rows_quarantined,
            "duplicates": result.duplicates,
            "run_id": run_id,
            "message": result.message,
        },
    }
