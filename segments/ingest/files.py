"""Load one file through a source mapping: raw (as read, PII hashed) -> typed staging rows.

Every line read ends in exactly one place: staged, quarantined (with a reason), or counted
as a duplicate. A load is one transaction, so a crash leaves no partial rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from segments.ingest import steps as load_steps
from segments.ingest.hashing import create_hashed_view
from segments.ingest.readers import FileUnreadableError, read_into
from segments.ingest.sources import SourceMapping

SCRATCH = "_loading"  # temp view over the rows read, with _line_number
HASHED = "_loading_hashed"  # the same with PII replaced by pseudonyms
_TEMP = ("_typed", "_keep", "_reject_gaps", f"{SCRATCH}_data", "_json_lines")


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


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    path: Path,
    *,
    run_id: str,
    pii_key: bytes,
    lake_dir: Path | None = None,
    landing_name: str | None = None,
    date_floor: date = date(2000, 1, 1),
) -> LoadResult:
    """Load one file; skip it if this exact content was loaded before."""
    path = Path(path)
    started = now()
    name = landing_name or path.name
    sha = file_sha256(path)
    size = path.stat().st_size
    load_id, skipped = claim_load(con, mapping, name, sha, size, run_id, started)
    if skipped is not None:
        return skipped
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
        lake_dir=lake_dir,
        date_floor=date_floor,
    )


def load_scratch(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    *,
    name: str,
    load_id: str,
    sha: str,
    size: int,
    rejects: list[dict],
    run_id: str,
    started: datetime,
    pii_key: bytes,
    lake_dir: Path | None,
    date_floor: date,
    in_transaction: Callable[[duckdb.DuckDBPyConnection, LoadResult], None] | None = None,
) -> LoadResult:
    """Raw, quarantine and staging rows of the scratch view in one transaction, then the lake.

    `in_transaction` runs just before the commit (a database source moves its high-water
    mark there), so the mark and the rows commit or roll back together.
    """
    loaded_at = now()
    try:
        create_hashed_view(con, mapping, SCRATCH, HASHED, pii_key)
        n_ok = con.execute(f"select count(*) from {SCRATCH}_data").fetchone()[0]
        if n_ok + len(rejects) == 0:
            raise FileUnreadableError(
                f"{name}: the file has no data rows; check that it is "
                "the right export and not empty or truncated"
            )
        con.execute("begin transaction")
        try:
            data_cols = load_steps.append_raw(con, mapping, HASHED, load_id, loaded_at)
            load_steps.supersede(con, mapping, name)
            good, quarantined = load_steps.quarantine(
                con, mapping, HASHED, name, load_id, rejects, date_floor, now() + timedelta(days=1)
            )
            staged, without_customer = load_steps.insert_staging(con, mapping, load_id)
            result = LoadResult(
                load_id,
                mapping.name,
                name,
                "loaded",
                sha,
                size,
                rows_read=n_ok + len(rejects),
                rows_staged=staged,
                rows_quarantined=quarantined,
                duplicates=good - staged,
                rows_without_customer=without_customer,
            )
            record(con, result, mapping.entity, run_id, started)
            if in_transaction is not None:
                in_transaction(con, result)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        if lake_dir is not None:
            _export_lake(con, mapping, data_cols, result, loaded_at, lake_dir)
    except (FileUnreadableError, duckdb.Error, OSError, ValueError) as exc:
        message = (
            str(exc)
            if isinstance(exc, FileUnreadableError)
            else (f"{name}: load failed ({type(exc).__name__}: {exc}); nothing was staged")
        )
        result = LoadResult(load_id, mapping.name, name, "failed", sha, size, message=message)
        record(con, result, mapping.entity, run_id, started)
    finally:
        drop_scratch(con)
    return result


def _export_lake(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    data_cols: list[str],
    result: LoadResult,
    loaded_at: datetime,
    lake_dir: Path,
) -> None:
    """The lake copy follows the commit; if it fails the load stands and says so."""
    try:
        load_steps.export_raw_load(
            con, mapping, HASHED, data_cols, result.load_id, loaded_at, lake_dir
        )
    except (duckdb.Error, OSError) as exc:
        result.message = f"loaded, but the lake copy failed ({exc}); rerun export"
        con.execute(
            "update ops.loads set message = $m where load_id = $l",
            {"m": result.message, "l": result.load_id},
        )


def drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Remove every temp relation of a load (the raw PII lives only there)."""
    for view in (HASHED, SCRATCH):
        con.execute(f"drop view if exists {view}")
    temp = con.execute(
        "select table_name from duckdb_tables() where temporary and "
        "(starts_with(table_name, '_pii_lookup_') "
        "or table_name in $names)",
        {"names": list(_TEMP)},
    ).fetchall()
    for (table,) in temp:
        con.execute(f"drop table if exists {table}")
