"""Load one file through a source mapping: raw (as read, PII hashed) -> typed staging rows.

Every line read ends in exactly one place: staged, quarantined (with a reason), or counted
as a duplicate. A load is one transaction, so a crash leaves no partial rows.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from segments.pii import pseudonyms
from segments.readers import FileUnreadableError, read_into
from segments.sources import ENTITY_COLUMNS, SourceMapping
from segments.sql import bind
from segments.typing_sql import raw_struct, typed_select

SCRATCH = "_loading"  # temp: row ids stay 0..n-1 outside the load transaction
REJECTS = "_rejects"


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


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _record(con: duckdb.DuckDBPyConnection, result: LoadResult, entity: str, run_id: str,
            started_at: datetime) -> None:
    con.execute(
        "insert into ops.loads values ($load_id, $run_id, $source, $entity, $path, $sha256, "
        "$size_bytes, $rows_read, $rows_staged, $rows_quarantined, $duplicates, "
        "$rows_without_customer, $status, $message, $started_at, $ended_at)",
        {**result.as_dict(), "entity": entity, "run_id": run_id, "started_at": started_at,
         "ended_at": _now()},
    )


def _previous_loads(con: duckdb.DuckDBPyConnection, source: str, sha: str) -> tuple[str | None, int]:
    """The load that already staged this exact content, and how many attempts it had."""
    row = con.execute(
        "select max(load_id) filter (where status = 'loaded'), count(*) from ops.loads "
        "where source = $source and sha256 = $sha and status <> 'skipped'",
        {"source": source, "sha": sha},
    ).fetchone()
    return row[0], row[1]


def ingest_file(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path, *,
                run_id: str, pii_key: bytes, lake_dir: Path | None = None,
                landing_name: str | None = None, date_floor: date = date(2000, 1, 1)
                ) -> LoadResult:
    """Load one file; skip it if this exact content was loaded before."""
    path = Path(path)
    started = _now()
    name = landing_name or path.name
    sha = file_sha256(path)
    size = path.stat().st_size
    done, attempts = _previous_loads(con, mapping.name, sha)
    load_id = f"{mapping.name}-{sha[:12]}-{attempts + 1}"
    if done:
        result = LoadResult(f"{load_id}-skip-{started:%Y%m%d%H%M%S%f}", mapping.name, name,
                            "skipped", sha, size,
                            message=f"same content already loaded as {done}; nothing to do")
        _record(con, result, mapping.entity, run_id, started)
        return result
    try:
        # Read outside the transaction: the scratch table is temporary and its row ids give
        # line numbers (rows created inside a transaction get transaction-local ids).
        rejects = read_into(con, mapping, path, SCRATCH, REJECTS)
        _hash_pii(con, mapping, pii_key)
        con.execute("begin transaction")
        try:
            result = _load(con, mapping, name, load_id, sha, size, rejects, date_floor)
            _record(con, result, mapping.entity, run_id, started)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    except Exception as exc:
        message = str(exc) if isinstance(exc, FileUnreadableError) else (
            f"{path.name}: load failed ({type(exc).__name__}: {exc}); nothing was staged")
        result = LoadResult(load_id, mapping.name, name, "failed", sha, size, message=message)
        _record(con, result, mapping.entity, run_id, started)
        return result
    finally:
        con.execute(f"drop table if exists {SCRATCH}")
        con.execute(f"drop table if exists {REJECTS}")
    if lake_dir is not None:
        export_raw_load(con, mapping, load_id, lake_dir)
    return result


def _load(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, name: str, load_id: str,
          sha: str, size: int, rejects: list[dict], date_floor: date) -> LoadResult:
    _append_raw(con, mapping, load_id)
    n_read_ok = con.execute(f"select count(*) from {SCRATCH}").fetchone()[0]
    if n_read_ok + len(rejects) == 0:
        raise FileUnreadableError(f"{name}: the file has no data rows; check that it is the "
                                  "right export and not empty or truncated")
    _supersede(con, mapping, name)
    quarantined = _quarantine(con, mapping, name, load_id, rejects, date_floor,
                              _now() + timedelta(days=1))
    staged, duplicates, without_customer = _stage(con, mapping, load_id)
    return LoadResult(load_id, mapping.name, name, "loaded", sha, size,
                      rows_read=n_read_ok + len(rejects), rows_staged=staged,
                      rows_quarantined=quarantined, duplicates=duplicates,
                      rows_without_customer=without_customer)


def _hash_pii(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, key: bytes) -> None:
    """Replace PII columns in the scratch table by their keyed hash, hashing distinct values."""
    for target, column in mapping.columns.items():
        if not column.pii:
            continue
        src = column.source
        quoted = '"' + src.replace('"', '""') + '"'
        normalise = (rf"regexp_replace(trim({quoted}), '\.0+$', '')" if column.type == "id"
                     else f"trim({quoted})")
        distinct = con.execute(
            f"select distinct {normalise} as v from {SCRATCH} where nullif({normalise}, '') "
            "is not null"
        ).fetchall()
        values = [row[0] for row in distinct]
        lookup = pd.DataFrame({"v": values, "h": pseudonyms(values, key)})
        con.register("_pii_lookup", lookup)
        con.execute(
            f"update {SCRATCH} set {quoted} = l.h from _pii_lookup l where {normalise} = l.v"
        )
        con.unregister("_pii_lookup")


def _append_raw(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, load_id: str) -> None:
    """Append what was read (PII hashed) to raw.<source>, all text, with its line number."""
    cols = [r[0] for r in con.execute(f"describe {SCRATCH}").fetchall()]
    data_cols = [c for c in cols if c != "_line_number"]
    con.execute(
        f"create table if not exists {mapping.raw_table} as select "
        + ", ".join(f'"{c}"::varchar as "{c}"' for c in data_cols)
        + ", ''::varchar as _load_id, 0::bigint as _line_number, "
        f"now()::timestamp as _loaded_at from {SCRATCH} with no data"
    )
    existing = {r[0] for r in con.execute(f"describe {mapping.raw_table}").fetchall()}
    for col in data_cols:
        if col not in existing:  # a newer export with an extra column: keep it, never drop
            con.execute(f'alter table {mapping.raw_table} add column "{col}" varchar')
    con.execute(
        f"insert into {mapping.raw_table} by name select "
        + ", ".join(f'"{c}"::varchar as "{c}"' for c in data_cols)
        + ", $load_id as _load_id, _line_number, now()::timestamp as _loaded_at "
        f"from {SCRATCH}",
        {"load_id": load_id},
    )


def _supersede(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, name: str) -> None:
    """A changed version of a file replaces the rows its earlier version staged."""
    old = [r[0] for r in con.execute(
        "select load_id from ops.loads where source = $source and path = $path "
        "and status = 'loaded'", {"source": mapping.name, "path": name}).fetchall()]
    for load_id in old:
        con.execute(f"delete from {mapping.table} where load_id = $l", {"l": load_id})
        con.execute("update ops.loads set status = 'superseded', message = 'a newer version "
                    "of this file replaced its rows' where load_id = $l", {"l": load_id})


def _quarantine(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, name: str,
                load_id: str, rejects: list[dict], date_floor: date,
                latest_allowed: datetime) -> int:
    """Type every row; rows with a reason go to ops.quarantine, the rest to `_typed`."""
    typed = f"create or replace temp table _typed as {typed_select(mapping, SCRATCH)}"
    con.execute(typed, bind(typed, {"date_floor": date_floor, "latest_allowed": latest_allowed}))
    raw_json = raw_struct(mapping)
    con.execute(
        "insert into ops.quarantine select $load_id, $source, $path, _line_number, "
        f"_reason_code, _reason, {raw_json}, now()::timestamp from _typed "
        "where _reason_code is not null",
        {"load_id": load_id, "source": mapping.name, "path": name},
    )
    if rejects:
        con.executemany(
            "insert into ops.quarantine values (?, ?, ?, ?, 'malformed_line', ?, ?, "
            "now()::timestamp)",
            [[load_id, mapping.name, name, r["line"], r["reason"], json.dumps(r["raw"])]
             for r in rejects],
        )
    typed_bad = con.execute("select count(*) from _typed where _reason_code is not null")
    return typed_bad.fetchone()[0] + len(rejects)


def _stage(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, load_id: str
           ) -> tuple[int, int, int]:
    """Insert good rows not already present; return (staged, duplicates, without customer)."""
    targets = [c for c in ENTITY_COLUMNS[mapping.entity] if c in mapping.columns]
    if mapping.entity == "transactions":
        # returns stay as negative lines; revenue is signed so net revenue sums correctly
        extra = ("starts_with(upper(invoice_id), 'C') as is_cancellation, "
                 "round(quantity * unit_price_gbp, 4) as line_revenue_gbp")
        compare = targets + ["is_cancellation", "line_revenue_gbp"]
    elif mapping.entity == "customers":
        extra = "now()::timestamp as loaded_at"
        compare = targets
    else:
        extra = ""
        compare = targets
    select_cols = ", ".join(targets) + (f", {extra}" if extra else "")
    con.execute(
        "create or replace temp table _good as select $source as source, $load_id as load_id, "
        f"_line_number as line_number, {select_cols} from _typed where _reason_code is null",
        {"source": mapping.name, "load_id": load_id},
    )
    key = ", ".join(compare)
    # An exact duplicate repeats every mapped value of an earlier line in this load, or of a
    # row already staged from this source (overlapping exports). Customers compare with their
    # latest version only: an unchanged record is a duplicate, a changed one a new version.
    if mapping.entity == "customers":
        existing = (f"select {key} from (select *, row_number() over (partition by customer_id "
                    "order by loaded_at desc, load_id desc, line_number desc) as rn "
                    f"from {mapping.table} where source = $source) where rn = 1")
    else:
        existing = f"select {key} from {mapping.table} where source = $source"
    con.execute(
        "create or replace temp table _fresh as "
        f"select * from _good qualify row_number() over (partition by {key} "
        "order by line_number) = 1",
    )
    same = " and ".join(f"f.{c} is not distinct from e.{c}" for c in compare)
    con.execute(
        f"create or replace temp table _fresh as select f.* from _fresh f anti join "
        f"({existing}) e on {same}",
        {"source": mapping.name},
    )
    con.execute(f"insert into {mapping.table} by name select * from _fresh order by line_number")
    good = con.execute("select count(*) from _good").fetchone()[0]
    staged = con.execute("select count(*) from _fresh").fetchone()[0]
    without_customer = 0
    if mapping.entity == "transactions":
        without_customer = con.execute(
            "select count(*) from _fresh where customer_id is null").fetchone()[0]
    for table in ("_typed", "_good", "_fresh"):
        con.execute(f"drop table if exists {table}")
    return staged, good - staged, without_customer


def export_raw_load(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, load_id: str,
                    lake_dir: Path) -> Path:
    """Parquet copy of one load under lake/raw/<source>/, written then renamed into place."""
    target = lake_dir / "raw" / mapping.name / f"load_id={load_id}" / "data.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".parquet.tmp")
    con.execute(
        f"copy (select * from {mapping.raw_table} where _load_id = $l order by _line_number) "
        f"to '{tmp}' (format parquet)",
        {"l": load_id},
    )
    os.replace(tmp, target)
    return target
