"""The suppression list and the erasure log, and the hook that keeps erased customers out.

`segments forget` lists each erased customer as a digest of its pseudonym. Ingest calls
`purge_suppressed` after loading (segments/ingest/landing.py::refresh_staging): a listed
customer that a re-landed file or a database source brought back is removed again from
every table, the lake Parquet and the landing file itself, before staging is rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from segments.core.erasure import (
    LINE_COLUMNS,
    Counts,
    Customers,
    delete_in_place,
    rewrite_parquet,
)
from segments.core.pii import customer_pseudonym, load_key, normalise_id
from segments.core.recordfiles import TextLayout, record_kind, rewrite_records
from segments.settings import Settings

SUPPRESSED = "ops.suppressed_customers"
ERASURES = "ops.erasures"


def digest(pseudonym: str) -> str:
    """What the suppression list holds: sha256 of the pseudonym (DuckDB's sha256 agrees)."""
    return hashlib.sha256(pseudonym.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def suppress(con: duckdb.DuckDBPyConnection, pseudonyms: Iterable[str], table: str = SUPPRESSED):
    """Add customers to the suppression list (once each)."""
    con.execute(
        f"insert or ignore into {table} select unnest($d::varchar[]), $now",
        {"d": sorted({digest(p) for p in pseudonyms}), "now": _now()},
    )


def log_erasure(
    con: duckdb.DuckDBPyConnection,
    counts: Counts,
    *,
    run_id: str | None,
    trigger: str,
    customers: int,
    extra: Iterable[tuple[str, str, int]] = (),
    table: str = ERASURES,
) -> None:
    """One ops.erasures row per place and action, plus a `total` row (never an id)."""
    rows = [(place, "rows_deleted", n) for place, n in sorted(counts.rows.items())]
    rows += [(place, "values_redacted", n) for place, n in sorted(counts.redacted.items())]
    rows += list(extra)
    rows.append(("total", "rows_deleted", counts.total_rows))
    now = _now()
    con.executemany(
        f"insert into {table} values (?, ?, ?, ?, ?, ?, ?)",
        [[run_id, now, trigger, customers, place, action, n] for place, action, n in rows],
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def present_suppressed(
    con: duckdb.DuckDBPyConnection, id_columns: Iterable[str], key: bytes
) -> tuple[set[str], set[str]]:
    """(pseudonyms, raw ids) of listed customers found again in a source-line table (raw,
    staging, quarantine): by an id column, or under an id key of a JSON column (quarantined
    lines, which may keep the raw id: those few values are hashed here)."""
    ids = sorted(set(id_columns))
    listed = f"(select id_digest from {SUPPRESSED})"
    pseudonyms: set[str] = set()
    raw: set[str] = set()
    digests: set[str] | None = None
    tables = con.execute(
        "select schema_name, table_name, list(column_name), list(data_type) from "
        "duckdb_columns() where database_name = current_database() group by all"
    ).fetchall()
    for schema, table, names, types in tables:
        if not LINE_COLUMNS.intersection(names):
            continue
        relation = f"{_q(schema)}.{_q(table)}"
        for name, dtype in zip(names, types, strict=True):
            if name in ids and dtype == "VARCHAR":
                value = f"trim({_q(name)})"
                query = (
                    f"select distinct {value} from {relation} where sha256({value}) in {listed}"
                )
                pseudonyms.update(r[0] for r in con.execute(query).fetchall())
            elif dtype == "JSON":
                query = (
                    f"select distinct trim(e.value ->> '$') from {relation} t, "
                    f"json_each(t.{_q(name)}) e where e.key in (select unnest($ids::varchar[]))"
                )
                values = [r[0] for r in con.execute(query, {"ids": ids}).fetchall() if r[0]]
                if values and digests is None:
                    digests = {r[0] for r in con.execute(f"select * from {listed}").fetchall()}
                for value in values:
                    hashed = customer_pseudonym(value, key)
                    if digest(value) in digests:
                        pseudonyms.add(value)
                    elif hashed is not None and digest(hashed) in digests:
                        pseudonyms.add(hashed)
                        raw.add(normalise_id(value))
    return pseudonyms, raw


def _tmp(path: Path) -> Path:
    return path.parent / f".{path.name}.tmp-erase"


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def register_rewritten(
    con: duckdb.DuckDBPyConnection,
    old_sha: str,
    tmp: Path,
    removed: int,
    run_id: str | None,
    table: str = "ops.loads",
) -> None:
    """Make a loaded file that an erasure rewrote known by its new content too.

    The original load keeps its row and its sha256 (a re-landed copy of the original is
    still skipped); a 0-row `loaded` row with the new sha256 makes the next run skip the
    rewritten file instead of loading it again as a changed version. Its rows stay those
    of the original load, minus what ops.erasures counts.
    """
    new_sha = sha256_file(tmp)
    row = con.execute(
        f"select load_id, source, entity, path from {table} where sha256 = $old "
        "and status = 'loaded' order by started_at desc limit 1",
        {"old": old_sha},
    ).fetchone()
    if row is None:  # never loaded: it will be loaded as it is now
        return
    load_id, source, entity, path = row
    known = con.execute(
        f"select count(*) from {table} where source = $s and sha256 = $new and status = 'loaded'",
        {"s": source, "new": new_sha},
    ).fetchone()[0]
    if known:
        return
    now = _now()
    con.execute(
        f"insert into {table} (load_id, run_id, source, entity, path, sha256, size_bytes, "
        "rows_read, rows_staged, rows_quarantined, duplicates, rows_without_customer, status, "
        "message, started_at, ended_at) values ($id, $run, $source, $entity, $path, $sha, "
        "$size, 0, 0, 0, 0, 0, 'loaded', $message, $now, $now)",
        {
            "id": f"{source}-{new_sha[:12]}-erasure-{now:%Y%m%d%H%M%S%f}",
            "run": run_id,
            "source": source,
            "entity": entity,
            "path": path,
            "sha": new_sha,
            "size": tmp.stat().st_size,
            "message": f"{path} after an erasure removed {removed} records: the rows of "
            f"{load_id} (see ops.erasures), not loaded again",
            "now": now,
        },
    )


def _matcher(con: duckdb.DuckDBPyConnection, ids: frozenset[str], key: bytes):
    """A record is a listed customer's when an id column's pseudonym (or any value) is on
    the list; the customers matched are collected (only how many is logged)."""
    digests = {r[0] for r in con.execute(f"select id_digest from {SUPPRESSED}").fetchall()}
    memo: dict[tuple[bool, str], str | None] = {}
    matched: set[str] = set()

    def listed(value: str, is_id: bool) -> bool:
        if (is_id, value) not in memo:
            hashed = customer_pseudonym(value, key) if is_id else value.strip(" ")
            memo[is_id, value] = hashed if hashed and digest(hashed) in digests else None
        hit = memo[is_id, value]
        if hit:
            matched.add(hit)
        return hit is not None

    def is_customer(record: dict[str, str]) -> bool:
        return any(listed(v, False) or (n in ids and listed(v, True)) for n, v in record.items())

    return is_customer, matched


def purge_suppressed(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    *,
    id_columns: Iterable[str],
    layouts: list[TextLayout],
) -> Counts:
    """Remove listed customers that this run's loads brought back, from every table, the
    lake Parquet and the landed files this run loaded or skipped (found by content). One count when the list
    is empty (the usual case)."""
    counts = Counts()
    if not con.execute(f"select count(*) from {SUPPRESSED}").fetchone()[0]:
        return counts
    ids = frozenset({"customer_id", *id_columns})
    key = load_key(settings)
    found, raw = present_suppressed(con, ids, key)
    shas = {
        r[0]
        for r in con.execute(
            "select distinct sha256 from ops.loads where run_id = $r and sha256 is not null",
            {"r": run_id},
        ).fetchall()
    }
    files = [
        p
        for p in sorted(settings.home.rglob("*"))  # wherever ingest keeps landed files
        if shas and p.is_file() and not p.name.startswith(".") and record_kind(p) is not None
    ]
    is_customer, matched = _matcher(con, ids, key)
    pending: list[Path] = []
    con.execute("begin transaction")
    try:
        if found:
            customers = Customers(frozenset(found), frozenset(raw), ids)
            counts.merge(delete_in_place(con, customers))
            for path in sorted(settings.lake_dir.rglob("*.parquet")):
                changed = rewrite_parquet(con, path, _tmp(path), customers)
                if changed:
                    pending.append(path)
                    counts.add(str(path.relative_to(settings.home)), *changed)
        for path in files:
            old = sha256_file(path)
            if old not in shas:
                continue
            removed = rewrite_records(
                path, _tmp(path), is_customer, id_columns=ids, layouts=layouts
            )
            if removed:
                register_rewritten(con, old, _tmp(path), removed, run_id)
                pending.append(path)
                counts.add(str(path.relative_to(settings.home)), removed)
        if counts.rows or counts.redacted:
            log_erasure(
                con, counts, run_id=run_id, trigger="ingest", customers=len(found | matched)
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        for path in pending:
            _tmp(path).unlink(missing_ok=True)
        raise
    for path in pending:
        _tmp(path).replace(path)
    return counts
