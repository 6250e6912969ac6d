"""`segments forget ID...`: erase customers everywhere under SEGMENTS_HOME, and prove it.

Run inside a run (the warehouse lock): each raw id is normalised and pseudonymised as ingest
does; every file is prepared without the customers (privacy/files.py), then the warehouse
is copied without them into a new file that also holds the suppression list and the
erasure log; all new files are renamed into place together, the latest run report is
rebuilt, and a scan of everything under SEGMENTS_HOME must find no pseudonym left.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from segments.core.db import connect
from segments.core.erasure import Customers, copy_database, finish_copy, open_scratch
from segments.core.pii import customer_pseudonym, load_key, normalise_id
from segments.core.suppression import log_erasure, register_rewritten, suppress
from segments.ingest import erasure_layouts
from segments.privacy.files import erase_files
from segments.privacy.scan import home_files, scan_home
from segments.publish import TMP_MARK, tmp_name
from segments.settings import Settings

log = logging.getLogger(__name__)
FLOW_NAME = "forget_customers"


class ErasureIncompleteError(RuntimeError):
    """Something under SEGMENTS_HOME still names an erased customer after the erasure."""


def read_ids(ids: Iterable[str], ids_file: Path | None = None) -> list[str]:
    """Raw ids from arguments and/or a file (one per line); normalised, distinct, in order.

    A file keeps ids out of shell history and out of Prefect's stored flow parameters.
    """
    values = list(ids)
    if ids_file is not None:
        values += Path(ids_file).read_text(encoding="utf-8").splitlines()
    normalised = [n for n in (normalise_id(v) for v in values) if n is not None]
    if not normalised:
        raise ValueError("no customer ids given: pass raw source ids (as in the landing files)")
    return list(dict.fromkeys(normalised))


def customers_of(settings: Settings, raw_ids: list[str]) -> tuple[Customers, list]:
    """The customers in every form their rows hold, and how landing files split."""
    key = load_key(settings)
    id_columns, layouts = erasure_layouts(settings.sql_dir)
    customers = Customers(
        frozenset(customer_pseudonym(i, key) for i in raw_ids),
        frozenset(raw_ids),
        frozenset({"customer_id", *id_columns}),
    )
    return customers, layouts


def remove_leftovers(settings: Settings) -> int:
    """Pending files of a killed forget or publish (safe: we hold the warehouse lock)."""
    removed = 0
    for path in home_files(settings.home):
        if path.name.startswith(".") and TMP_MARK in path.name:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _latest_report_run(settings: Settings) -> str | None:
    with connect(settings, read_only=True) as con:
        row = con.execute(
            "select run_id from ops.runs where stage = 'report' and status = 'completed' "
            "order by ended_at desc limit 1"
        ).fetchone()
    return row[0] if row else None


def _rebuild_report(settings: Settings, run_id: str) -> bool:
    """The latest run report again, from the erased warehouse (its charts lose the
    customer's points; older reports and Data Docs keep only the redaction)."""
    from segments.report import build_report

    try:
        with connect(settings) as con:
            build_report(con, settings, run_id)
    except Exception:  # noqa: BLE001 - the redacted report stays; the log says so
        log.warning("could not rebuild the report of run %s; it stays redacted", run_id)
        return False
    return True


def forget_customers(settings: Settings, raw_ids: list[str], *, run_id: str) -> dict[str, Any]:
    """Erase the customers; returns counts by place (never an id). The caller holds the lock."""
    customers, layouts = customers_of(settings, raw_ids)
    leftovers = remove_leftovers(settings)
    with connect(settings) as con:
        con.execute("checkpoint")  # nothing left in a .wal: the copy reads the whole file
    report_run = _latest_report_run(settings)
    with open_scratch(settings.threads, settings.memory_limit) as con:
        files = erase_files(con, settings, customers, layouts, run_id)
        target = tmp_name(settings.warehouse_path, f"forget-{run_id}")
        counts = copy_database(con, settings.warehouse_path, target, customers)
        counts.merge(files.counts)
        suppress(con, customers.pseudonyms, table="erase_dst.ops.suppressed_customers")
        for old_sha, tmp, removed in files.rewritten:
            register_rewritten(con, old_sha, tmp, removed, run_id, table="erase_dst.ops.loads")
        log_erasure(
            con,
            counts,
            run_id=run_id,
            trigger="forget",
            customers=len(raw_ids),
            table="erase_dst.ops.erasures",
        )
        finish_copy(con)
    files.pending.add(target, settings.warehouse_path)  # last: done only if all else is
    files.pending.swap()
    rebuilt = bool(files.reports_redacted and report_run and _rebuild_report(settings, report_run))
    left = scan_home(settings.home, sorted(customers.pseudonyms))
    places = sorted({hit.place for hit in left} | set(files.unresolved))
    if places:
        raise ErasureIncompleteError(
            f"erased {counts.total_rows:,} rows, but {len(places)} places still hold an "
            f"erased customer's pseudonym: {', '.join(places[:10])}; remove or fix them and "
            "run the same `segments forget` again"
        )
    return {
        "customers": len(raw_ids),
        "rows_deleted": counts.total_rows,
        "rows_by_place": dict(sorted(counts.rows.items())),
        "values_redacted": sum(counts.redacted.values()),
        "files_replaced": len(files.pending.pairs),
        "report_rebuilt": rebuilt,
        "leftovers_removed": leftovers,
    }
