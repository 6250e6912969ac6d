"""One load's bookkeeping: its result (an ops.loads row), its options, its id, its temp
relations. Shared by file and database loads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from segments.ingest.readers import drop_relation
from segments.ingest.sources import SourceMapping
from segments.settings import PROJECT_DIR

SCRATCH = "_loading"  # temp view over the rows read, with _line_number
HASHED = "_loading_hashed"  # the same with PII replaced by pseudonyms
_TEMP = (
    "_typed_all",  # a view over HASHED: dropped first
    HASHED,
    "_typed",
    "_checks",
    "_dups",
    "_reject_gaps",
    f"{SCRATCH}_data",
    "_lines",
    "_lines_data",
    "_fields",
    "_typed_values",
    "_typed_cols",
    "_good",
    "_staged",
    "_candidates",
    "_candidate_lines",
)
# progress(what, fraction of this file done): the CLI prints it, a flow updates an artifact
Progress = Callable[[str, float], None]


@dataclass
class LoadResult:
    """What happened to one file; mirrors a row of ops.loads."""

    load_id: str
    source: str
    path: str
    status: str
    sha256: str = ""
    size_bytes: int = 0
    rows_read: int = 0
    rows_staged: int = 0
    rows_quarantined: int = 0
    duplicates: int = 0
    rows_without_customer: int = 0
    message: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    """Content hash: the identity of a file version, whatever its name or mtime."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def now() -> datetime:
    """UTC wall clock without tzinfo, as DuckDB timestamps hold it."""
    return datetime.now(UTC).replace(tzinfo=None)


def record(
    con: duckdb.DuckDBPyConnection,
    result: LoadResult,
    entity: str,
    run_id: str,
    started_at: datetime,
) -> None:
    """One row of ops.loads per attempt, whatever its outcome."""
    con.execute(
        "insert into ops.loads values ($load_id, $run_id, $source, $entity, $path, $sha256, "
        "$size_bytes, $rows_read, $rows_staged, $rows_quarantined, $duplicates, "
        "$rows_without_customer, $status, $message, $started_at, $ended_at)",
        {
            **result.as_dict(),
            "entity": entity,
            "run_id": run_id,
            "started_at": started_at,
            "ended_at": now(),
        },
    )


def record_failure(
    con: duckdb.DuckDBPyConnection,
    source: str,
    entity: str,
    name: str,
    message: str,
    run_id: str,
    *,
    sha: str = "",
    size: int = 0,
) -> LoadResult:
    """A failed attempt that never got as far as a load id (unreadable, bad mapping...)."""
    started = now()
    result = LoadResult(
        f"{source}-failed-{started:%Y%m%d%H%M%S%f}",
        source,
        name,
        "failed",
        sha,
        size,
        message=message[:2000],
    )
    record(con, result, entity, run_id, started)
    return result


def previous_loads(
    con: duckdb.DuckDBPyConnection, source: str, sha: str
) -> tuple[str | None, int]:
    """The load that already staged this exact content, and how many attempts it had."""
    row = con.execute(
        "select max(load_id) filter (where status = 'loaded'), count(*) from ops.loads "
        "where source = $source and sha256 = $sha and status <> 'skipped'",
        {"source": source, "sha": sha},
    ).fetchone()
    return row[0], row[1]


def claim_load(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    name: str,
    sha: str,
    size: int,
    run_id: str,
    started: datetime,
) -> tuple[str, LoadResult | None]:
    """The load id for this content, or a recorded `skipped` result if it was loaded before."""
    done, attempts = previous_loads(con, mapping.name, sha)
    load_id = f"{mapping.name}-{sha[:12]}-{attempts + 1}"
    if not done:
        return load_id, None
    result = LoadResult(
        f"{load_id}-skip-{started:%Y%m%d%H%M%S%f}",
        mapping.name,
        name,
        "skipped",
        sha,
        size,
        message=f"same content already loaded as {done}; nothing to do",
    )
    record(con, result, mapping.entity, run_id, started)
    return load_id, result


@dataclass(frozen=True)
class LoadOptions:
    """How a load runs: where its SQL and lake are, its date floor, its quarantine limit."""

    sql_dir: Path = PROJECT_DIR / "warehouse"
    lake_dir: Path | None = None
    date_floor: date = date(2000, 1, 1)
    max_quarantine_share: float | None = None  # None: no limit (a test, a dry run)
    progress: Progress | None = None

    def report(self, what: str, fraction: float) -> None:
        if self.progress is not None:
            self.progress(what, fraction)


def drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Remove every temp relation of a load (the raw PII lives only there)."""
    for name in ("_load_lines", SCRATCH, *_TEMP):
        drop_relation(con, name)
    lookups = con.execute(
        "select table_name from duckdb_tables() where temporary and "
        "starts_with(table_name, '_pii_lookup_')"
    ).fetchall()
    for (table,) in lookups:
        con.execute(f"drop table if exists {table}")


def latest_allowed() -> datetime:
    """Dates after this are in the future (a day of slack for time zones)."""
    return now() + timedelta(days=1)
