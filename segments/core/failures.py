"""What a failed run leaves in the Prefect UI: which stage failed and what is still served."""

from __future__ import annotations

from datetime import UTC, datetime

from segments.core import journal
from segments.core.db import connect
from segments.core.errors import BusyError
from segments.core.locks import warehouse_lock
from segments.core.runs import RUN
from segments.core.served import served_publish
from segments.settings import Settings


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _stages_of(settings: Settings, run_id: str, error: str) -> list[tuple[str, str, str]]:
    """(stage, status, message) of a run from the warehouse, or from the journal when busy."""
    try:
        with (
            warehouse_lock(settings.home, f"failure report of run {run_id}", timeout_s=10.0),
            connect(settings) as con,
        ):
            con.execute(
                "update ops.runs set status = 'failed', ended_at = coalesce(ended_at, $now), "
                "message = coalesce(message, $m) where run_id = $r and stage = $run "
                "and status = 'running'",
                {"r": run_id, "now": _now(), "m": error[:4000], "run": RUN},
            )
            return con.execute(
                "select stage, status, coalesce(message, '') from ops.runs where run_id = $r "
                "order by started_at",
                {"r": run_id},
            ).fetchall()
    except BusyError:
        rows = [row for _, row in journal.pending(settings.home) if row["run_id"] == run_id]
        return [(r["stage"], r["status"], r.get("message") or "") for r in rows]


def failure_report(settings: Settings, run_id: str, error: str) -> str:
    """Mark the run failed (if not yet) and say which stage failed and what is still served."""
    rows = _stages_of(settings, run_id, error)
    stages = [row for row in rows if row[0] != RUN]
    failed = [s for s in stages if s[1] == "failed"]
    run_row = next((row for row in rows if row[0] == RUN), None)
    reason = failed[0][2] if failed else (run_row[2] if run_row and run_row[2] else error)
    lines = [
        f"# Run `{run_id}` failed",
        "",
        f"**Failed stage:** {failed[0][0] if failed else 'before any stage'}",
        f"**Error:** {reason}",
        "",
    ]
    served = served_publish(settings)
    if served and served.run_id == run_id:
        lines.append(
            f"**Served:** this run's segments (as of {served.as_of}, {served.customers:,} "
            "customers) were published to serving.duckdb before a later stage failed."
        )
    elif served:
        lines.append(
            f"**Still served:** the segments of run `{served.run_id}` (as of {served.as_of}, "
            f"{served.customers:,} customers) in serving.duckdb; nothing from this run was "
            "published."
        )
    else:
        lines.append("**Still served:** nothing has been published yet.")
    lines += ["", "| stage | status | message |", "|---|---|---|"]
    lines += [f"| {s} | {st} | {m[:300]} |" for s, st, m in stages]
    return "\n".join(lines)
