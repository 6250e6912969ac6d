"""CRM exports: who changed segment in a publish, and a full snapshot on request.

Files carry only the pseudonymous customer_id (never raw PII) and are written to a temporary
name and renamed, so a CRM job picking them up never reads half a file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from segments.core.errors import RefusedError
from segments.publish.pending import PendingFiles, tmp_name
from segments.publish.serving import lake_dates, lake_target
from segments.settings import Settings

FORMATS = {"csv": "(format csv, header true)", "parquet": "(format parquet)"}

CHANGES_QUERY = """
select customer_id, previous_segment_id, previous_segment_name, segment_id, segment_name,
       change_reason, previous_since, model_version, run_id, as_of
from marts.segment_changes
order by change_reason, customer_id
"""

SNAPSHOT_COLUMNS = """customer_id, segment_id, segment_name, rfm_segment, clv,
       model_version, run_id, as_of"""


def export_path(
    settings: Settings, kind: str, as_of: date, fmt: str, label: str | None = None
) -> Path:
    """exports/<kind>_<YYYY-MM-DD>.<fmt>: one file per publish and format; a score-recent
    publish adds its label (`_recent-<time>`), so it never overwrites the nightly's file."""
    suffix = f"_{label}" if label else ""
    return settings.exports_dir / f"{kind}_{as_of.isoformat()}{suffix}.{fmt}"


def write_export(
    con: duckdb.DuckDBPyConnection,
    query: str,
    pending: PendingFiles,
    *,
    settings: Settings,
    kind: str,
    as_of: date,
    run_id: str,
    label: str | None = None,
) -> None:
    """Write one query as CSV and Parquet under temporary names."""
    settings.exports_dir.mkdir(parents=True, exist_ok=True)
    for fmt, options in FORMATS.items():
        target = export_path(settings, kind, as_of, fmt, label)
        tmp = tmp_name(target, run_id)
        con.execute(f"copy ({query}) to $path {options}", {"path": str(tmp)})
        pending.add(tmp, target)


def write_changes_export(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    pending: PendingFiles,
    *,
    as_of: date,
    run_id: str,
    label: str | None = None,
) -> None:
    """exports/segment_changes_<as_of>[_<label>].csv|parquet from this publish's
    marts.segment_changes."""
    write_export(
        con,
        CHANGES_QUERY,
        pending,
        settings=settings,
        kind="segment_changes",
        as_of=as_of,
        run_id=run_id,
        label=label,
    )


def write_snapshot_export(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    pending: PendingFiles,
    *,
    as_of: date,
    run_id: str,
) -> None:
    """exports/segments_snapshot_<as_of>.* from the just-published marts.customer_segments."""
    query = f"select {SNAPSHOT_COLUMNS} from marts.customer_segments order by customer_id"
    write_export(
        con,
        query,
        pending,
        settings=settings,
        kind="segments_snapshot",
        as_of=as_of,
        run_id=run_id,
    )


def published_dates(settings: Settings) -> list[date]:
    """as_of dates with a published customer_segments file in the lake, oldest first."""
    return lake_dates(settings, "customer_segments")


def export_snapshot(settings: Settings, as_of: date | None = None) -> dict[str, Path]:
    """Full segment snapshot of one publish for the CRM, read from the lake (never the
    warehouse, so it works while a run holds it); as_of defaults to the latest publish."""
    dates = published_dates(settings)
    if not dates:
        raise RefusedError(
            f"no published segments under {settings.lake_dir}; run `segments run` first"
        )
    as_of = as_of or dates[-1]
    if as_of not in dates:
        raise RefusedError(
            f"no publish for as_of {as_of}; published: "
            f"{', '.join(d.isoformat() for d in dates[-5:])} ..."
        )
    source = lake_target(settings, "customer_segments", as_of)
    pending = PendingFiles()
    with duckdb.connect() as con:
        con.execute(
            "create temp table customer_segments as select * from read_parquet($path)",
            {"path": str(source)},
        )
        query = f"select {SNAPSHOT_COLUMNS} from customer_segments order by customer_id"
        write_export(
            con,
            query,
            pending,
            settings=settings,
            kind="segments_snapshot",
            as_of=as_of,
            run_id="snapshot",
        )
    pending.swap()
    return {target.suffix.lstrip("."): target for _, target in pending.pairs}
