"""Every file under SEGMENTS_HOME except the warehouse, erased by what it is, not where:

- a DuckDB file (serving.duckdb, any other copy): rewritten without the customers;
- a Parquet file (lake, exports): rewritten without their rows (partition by partition);
- a record file (landing CSV / JSON lines / Excel, gzip or not, wherever ingest keeps it;
  export CSVs): rewritten without their records, every other line byte for byte;
- any other text (run reports, Data Docs, JSON, markdown): each pseudonym becomes [erased];
- a binary file that holds a pseudonym (none does today): left, and named as unresolved.
Each new version is a pending file (publish/pending.py), renamed into place with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from segments.core.erasure import Counts, Customers, copy_database, finish_copy, rewrite_parquet
from segments.core.pii import normalise_id
from segments.core.recordfiles import TextLayout, record_kind, rewrite_records
from segments.core.suppression import sha256_file
from segments.privacy.scan import file_bytes, home_files, is_database
from segments.publish import PendingFiles, tmp_name
from segments.settings import Settings

NEVER_TOUCHED = frozenset({".warehouse.lock", "pii.key"})


@dataclass
class FileErasure:
    """What the file pass found and prepared (nothing is renamed yet)."""

    counts: Counts = field(default_factory=Counts)
    pending: PendingFiles = field(default_factory=PendingFiles)
    rewritten: list[tuple[str, Path, int]] = field(default_factory=list)  # sha, new, rows
    unresolved: list[str] = field(default_factory=list)
    reports_redacted: bool = False


def record_matcher(customers: Customers):
    """Is a record (column -> text) the customer's: an id column holds their raw id or
    pseudonym, or any column holds their pseudonym (hashed PII in an export)."""
    keys = customers.pseudonyms | customers.raw_ids

    def is_customer(record: dict[str, str]) -> bool:
        for name, value in record.items():
            if value.strip(" ") in customers.pseudonyms:
                return True
            if name in customers.id_columns and normalise_id(value) in keys:
                return True
        return False

    return is_customer


def _redact_text(path: Path, tmp: Path, customers: Customers) -> int | None:
    """Replace every pseudonym in a UTF-8 text file; None for a binary or unchanged file."""
    data = path.read_bytes()
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    count = sum(text.count(p) for p in customers.pseudonyms)
    if not count:
        return None
    for pseudonym in customers.pseudonyms:
        text = text.replace(pseudonym, "[erased]")
    tmp.write_bytes(text.encode("utf-8"))
    return count


def erase_files(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    customers: Customers,
    layouts: list[TextLayout],
    run_id: str,
) -> FileErasure:
    """Prepare the new version of every file that holds the customers (warehouse aside)."""
    found = FileErasure()
    is_customer = record_matcher(customers)
    # a normalised id is a substring of the text it came from: a record without any of
    # these cannot be the customer's
    needles = tuple(sorted(customers.pseudonyms | customers.raw_ids))
    for path in home_files(settings.home):
        if path == settings.warehouse_path or path.name in NEVER_TOUCHED:
            continue
        place = str(path.relative_to(settings.home))
        tmp = tmp_name(path, f"forget-{run_id}")
        if is_database(path):
            counts = copy_database(con, path, tmp, customers)
            finish_copy(con)
            if counts.rows or counts.redacted:
                found.pending.add(tmp, path)
                for table, rows in counts.rows.items():
                    found.counts.add(f"{place}:{table}", rows)
                for table, n in counts.redacted.items():
                    found.counts.add(f"{place}:{table}", 0, n)
            else:
                tmp.unlink(missing_ok=True)
            continue
        if path.suffix == ".parquet":
            changed = rewrite_parquet(con, path, tmp, customers)
            if changed:
                found.pending.add(tmp, path)
                found.counts.add(place, *changed)
            continue
        removed = None
        if record_kind(path) is not None:
            old = sha256_file(path)
            removed = rewrite_records(
                path,
                tmp,
                is_customer,
                id_columns=customers.id_columns,
                layouts=layouts,
                needles=needles,
            )
            if removed:
                found.pending.add(tmp, path)
                found.counts.add(place, removed)
                found.rewritten.append((old, tmp, removed))
        if removed is None:
            redacted = _redact_text(path, tmp, customers)
            if redacted:
                found.pending.add(tmp, path)
                found.counts.add(place, 0, redacted)
                found.reports_redacted |= path.is_relative_to(settings.reports_dir)
            elif any(
                p.encode() in part for part in file_bytes(path) for p in customers.pseudonyms
            ):
                found.unresolved.append(place)
    return found
