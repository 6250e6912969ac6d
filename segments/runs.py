"""Bookkeeping of runs and stages in ops.runs: what ran, when, and how it ended."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from segments.db import connect
from segments.settings import Settings


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def record_stage(
    settings: Settings,
    run_id: str,
    stage: str,
    status: str,
    *,
    flow_name: str = "nightly_segmentation",
    as_of: date | None = None,
    started_at: datetime | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Insert or update one (run, stage) row; a short write of its own, never held open."""
    ended = None if status == "running" else _now()
    with connect(settings) as con:
        con.execute(
            "insert or replace into ops.runs values ($run_id, $flow, $stage, $status, $as_of, "
            "coalesce($started, (select started_at from ops.runs where run_id = $run_id "
            "and stage = $stage), $now), $ended, $message, $details)",
            {
                "run_id": run_id,
                "flow": flow_name,
                "stage": stage,
                "status": status,
                "as_of": as_of,
                "started": started_at,
                "now": _now(),
                "ended": ended,
                "message": message,
                "details": json.dumps(details, default=str) if details else None,
            },
        )


@contextmanager
def stage(
    settings: Settings,
    run_id: str,
    name: str,
    *,
    as_of: date | None = None,
    flow_name: str = "nightly_segmentation",
) -> Iterator[dict[str, Any]]:
    """Record a stage as running, then completed (with details) or failed (with the error)."""
    details: dict[str, Any] = {}
    started = _now()
    record_stage(
        settings, run_id, name, "running", as_of=as_of, started_at=started, flow_name=flow_name
    )
    try:
        yield details
    except Exception as exc:
        record_stage(
            settings,
            run_id,
            name,
            "failed",
            as_of=as_of,
            started_at=started,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            details=details,
            flow_name=flow_name,
        )
        raise
    record_stage(
        settings,
        run_id,
        name,
        "completed",
        as_of=as_of,
        started_at=started,
        details=details,
        flow_name=flow_name,
    )


def failure_report(settings: Settings, run_id: str, error: str) -> str:
    """Mark the run failed (if not yet) and say which stage failed and what is still served."""
    with connect(settings) as con:
        stages = con.execute(
            "select stage, status, coalesce(message, '') from ops.runs where run_id = $r "
            "and stage <> 'run' order by started_at",
            {"r": run_id},
        ).fetchall()
        con.execute(
            "update ops.runs set status = 'failed', ended_at = coalesce(ended_at, $now), "
            "message = coalesce(message, $m) where run_id = $r and stage in ('run') "
            "and status <> 'failed'",
            {"r": run_id, "now": _now(), "m": error[:2000]},
        )
        served = (
            con.execute(
                "select any_value(run_id), any_value(as_of), count(*) from marts.customer_segments"
            ).fetchone()
            if con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'marts' "
                "and table_name = 'customer_segments'"
            ).fetchone()[0]
            else None
        )
    failed = [s for s in stages if s[1] == "failed"]
    lines = [
        f"# Run `{run_id}` failed",
        "",
        f"**Failed stage:** {failed[0][0] if failed else 'before any stage'}",
        f"**Error:** {failed[0][2] if failed else error}",
        "",
    ]
    if served and served[2]:
        lines.append(
            f"**Still served:** the segments of run `{served[0]}` (as of {served[1]}, "
            f"{served[2]:,} customers) in marts.customer_segments and serving.duckdb; "
            "nothing from this run was published."
        )
    else:
        lines.append("**Still served:** nothing has been published yet.")
    lines += ["", "| stage | status | message |", "|---|---|---|"]
    lines += [f"| {s} | {st} | {m[:200]} |" for s, st, m in stages]
    return "\n".join(lines)
