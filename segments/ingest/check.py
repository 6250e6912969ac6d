"""`segments sources check MAPPING FILE`: a dry run of one load, writing nothing anywhere.

The file goes through the same reader, typing, checks and de-duplication as a real load, in
an in-memory DuckDB that is thrown away: the warehouse file, the lake, the landing folder
and the PII key file are not touched (without SEGMENTS_PII_KEY the pseudonyms shown come
from a throwaway key).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from segments.core.db import connect_path
from segments.core.sql import apply_schema
from segments.ingest.files import ingest_file
from segments.ingest.loading import share_failure
from segments.ingest.loads import LoadOptions, LoadResult
from segments.ingest.sources import resolve_mapping
from segments.settings import Settings


@dataclass
class CheckReport:
    """What a load of the file would do, for the command to print."""

    mapping: str
    entity: str
    result: LoadResult
    columns: list[str] = field(default_factory=list)
    first_rows: list[tuple] = field(default_factory=list)
    reasons: list[tuple[str, int, str]] = field(default_factory=list)  # code, count, example
    limit: float = 0.05

    def lines(self) -> list[str]:
        """The report as the command prints it."""
        r = self.result
        out = [f"mapping {self.mapping} ({self.entity}) on {r.path}: dry run, nothing written"]
        if r.status == "failed" and not r.rows_read:
            return [*out, f"the load would fail: {r.message}"]
        share = r.rows_quarantined / r.rows_read if r.rows_read else 0.0
        verdict, stage = "load", f"stage {r.rows_staged:,}"
        if r.status == "failed":
            verdict, stage = "fail", f"stage 0 (of {r.rows_staged:,} good lines)"
        out.append(
            f"the load would {verdict}: read {r.rows_read:,}, {stage}, "
            f"quarantine {r.rows_quarantined:,} ({share:.1%}; the limit is "
            f"SEGMENTS_MAX_QUARANTINE_SHARE={self.limit:g}), duplicates {r.duplicates:,}"
        )
        if r.status == "failed":
            out.append(f"  {r.message.replace('nothing staged', 'nothing would be staged')}")
        if self.first_rows:
            out.append(f"first {len(self.first_rows)} typed rows:")
            out.append("  " + " | ".join(self.columns))
            out += ["  " + " | ".join(_cell(v) for v in row) for row in self.first_rows]
        if self.reasons:
            out.append("quarantine reasons:")
            out += [f"  {code:36} {n:>9,}  e.g. {example}" for code, n, example in self.reasons]
        return out


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def check_source(
    settings: Settings, mapping_name: str, path: Path, *, rows: int = 10
) -> CheckReport:
    """Run the load of `path` through the mapping in memory and describe the outcome."""
    mapping = resolve_mapping(mapping_name, settings.sql_dir)
    key = (
        settings.pii_key.get_secret_value().encode()
        if settings.pii_key is not None
        else secrets.token_bytes(32)
    )
    options = LoadOptions(
        sql_dir=settings.sql_dir,
        date_floor=settings.date_floor,
        max_quarantine_share=None,  # staged anyway, to show the typed rows; judged below
    )
    con = connect_path(":memory:", memory_limit=settings.memory_limit, threads=settings.threads)
    try:
        apply_schema(con, settings.sql_dir)
        result = ingest_file(con, mapping, path, run_id="check", pii_key=key, options=options)
        report = CheckReport(
            mapping.name, mapping.entity, result, limit=settings.max_quarantine_share
        )
        failure = share_failure(
            con, result.load_id, result.rows_read, result.rows_quarantined, report.limit
        )
        if failure is not None:
            result.status, result.message = "failed", failure
        staged = con.execute(
            f"select * exclude (source, load_id) from {mapping.table} "
            f"order by line_number limit {int(rows)}"
        )
        report.columns = [d[0] for d in staged.description]
        report.first_rows = staged.fetchall()
        report.reasons = con.execute(
            "select reason_code, count(*), min(reason) from ops.quarantine "
            "group by 1 order by 2 desc, 1"
        ).fetchall()
    finally:
        con.close()
    return report
