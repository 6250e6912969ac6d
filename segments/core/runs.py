"""Runs and their stages in ops.runs, and the one way a run starts: lock, prepare, record.

Every flow and every command that writes the warehouse opens a run with `open_run`: it takes
the warehouse lock, prepares the schema, and records the run row and each stage's row under
the real flow name, so ops.runs always says which flow did what.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from segments.core.db import connect
from segments.core.locks import warehouse_lock
from segments.core.warehouse import prepare_warehouse
from segments.settings import Settings

RUN = "run"  # the stage name of the row that stands for the whole run


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def record_stage(
    settings: Settings,
    run_id: str,
    stage: str,
    status: str,
    *,
    flow_name: str,
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


def error_text(exc: BaseException) -> str:
    """How a failure is stored: the exception type and its message, bounded."""
    return f"{type(exc).__name__}: {exc}"[:2000]


@dataclass(frozen=True)
class RunContext:
    """What every task of a run needs: settings, run id, flow name and as_of (no connection)."""

    settings: Settings
    run_id: str
    flow_name: str
    as_of: date | None = None

    def record(self, stage: str, status: str, **kwargs: Any) -> None:
        """One ops.runs row of this run, under this run's flow name."""
        record_stage(
            self.settings,
            self.run_id,
            stage,
            status,
            flow_name=self.flow_name,
            as_of=kwargs.pop("as_of", self.as_of),
            **kwargs,
        )

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        """Record a stage as running, then completed (with details) or failed (with the error)."""
        details: dict[str, Any] = {}
        started = _now()
        self.record(name, "running", started_at=started)
        try:
            yield details
        except BaseException as exc:
            self.record(
                name, "failed", started_at=started, message=error_text(exc), details=details
            )
            raise
        self.record(name, "completed", started_at=started, details=details)


@contextmanager
def open_run(
    settings: Settings,
    run_id: str,
    flow_name: str,
    *,
    as_of: date | None = None,
    params: dict[str, Any] | None = None,
    prepare: Callable[[Settings], None] = prepare_warehouse,
) -> Iterator[tuple[RunContext, dict[str, Any]]]:
    """Hold the warehouse for one run: lock, prepare, then the run row from start to end.

    Yields the context tasks take and a dict the caller fills with the run's summary; it is
    stored on the run row when the block ends (completed), or the error is (failed).
    """
    context = RunContext(settings, run_id, flow_name, as_of)
    summary: dict[str, Any] = {}
    with warehouse_lock(
        settings.home, f"{flow_name} run {run_id}", timeout_s=settings.lock_timeout_seconds
    ):
        prepare(settings)
        context.record(RUN, "running", details=params)
        try:
            yield context, summary
        except BaseException as exc:
            context.record(RUN, "failed", message=error_text(exc), details=summary or params)
            raise
        context.record(RUN, "completed", details=summary or params)


def failure_report(settings: Settings, run_id: str, error: str) -> str:
    """Mark the run failed (if not yet) and say which stage failed and what is still served."""
    with connect(settings) as con:
        stages = con.execute(
            "select stage, status, coalesce(message, '') from ops.runs where run_id = $r "
            "and stage <> $run order by started_at",
            {"r": run_id, "run": RUN},
        ).fetchall()
        con.execute(
            "update ops.runs set status = 'failed', ended_at = coalesce(ended_at, $now), "
            "message = coalesce(message, $m) where run_id = $r and stage = $run "
            "and status <> 'failed'",
            {"r": run_id, "now": _now(), "m": error[:2000], "run": RUN},
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
