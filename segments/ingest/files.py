"""Load one file through a source mapping: raw (as read, PII hashed) -> typed staging rows.

Every line read ends in exactly one place: staged, quarantined (with a reason), or counted
as a duplicate. A load is one transaction, so a crash leaves no partial rows; any failure of
the file (unreadable, corrupt, wrong format, an option it does not fit, too many bad lines)
is a `failed` row of ops.loads with the reason, never an exception for the caller.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from segments.ingest.loading import load_scratch
from segments.ingest.loads import (
    SCRATCH,
    LoadOptions,
    LoadResult,
    claim_load,
    drop_scratch,
    file_sha256,
    now,
    record,
    record_failure,
)
from segments.ingest.readers import FileUnreadableError, first_line_of, read_into
from segments.ingest.sources import SourceMapping

__all__ = ["LoadOptions", "LoadResult", "ingest_file"]


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    path: Path,
    *,
    run_id: str,
    pii_key: bytes,
    landing_name: str | None = None,
    options: LoadOptions | None = None,
    **option_values: object,
) -> LoadResult:
    """Load one file; skip it if this exact content was loaded before. Never raises for a
    problem of the file: it becomes a `failed` result (and ops.loads row) with the reason."""
    opts = options or LoadOptions(**option_values)  # type: ignore[arg-type]
    path = Path(path)
    name = landing_name or path.name
    try:
        sha, size = file_sha256(path), path.stat().st_size
    except OSError as exc:
        message = (
            f"{path}: cannot be read ({first_line_of(exc)}); check that it exists and is readable"
        )
        return record_failure(con, mapping.name, mapping.entity, name, message, run_id)
    started = now()
    load_id, skipped = claim_load(con, mapping, name, sha, size, run_id, started)
    if skipped is not None:
        return skipped
    opts.report("reading", 0.0)
    try:
        rejects = read_into(con, mapping, path, SCRATCH)
    except FileUnreadableError as exc:
        result = LoadResult(load_id, mapping.name, name, "failed", sha, size, message=str(exc))
        record(con, result, mapping.entity, run_id, started)
        drop_scratch(con)
        return result
    return load_scratch(
        con,
        mapping,
        name=name,
        load_id=load_id,
        sha=sha,
        size=size,
        rejects=rejects,
        run_id=run_id,
        started=started,
        pii_key=pii_key,
        options=opts,
    )
