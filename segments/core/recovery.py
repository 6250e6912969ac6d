"""Crashed runs: rows still `running` whose process died, found by the next run that holds
the warehouse lock; and the journal of rows written while the warehouse was busy, replayed."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from segments.core import journal

log = logging.getLogger(__name__)
ACTIVE_RUNS: set[str] = set()  # runs open in this process (filled by runs.open_run)

_UPSERT = (
    "insert or replace into ops.runs (run_id, flow_name, stage, status, as_of, started_at, "
    "ended_at, message, details, pid, host, flow_run_id) values ($run_id, $flow_name, $stage, "
    "$status, $as_of, coalesce($started_at, (select started_at from ops.runs where run_id = "
    "$run_id and stage = $stage), $now), $ended_at, $message, $details, $pid, $host, "
    "coalesce($flow_run_id, (select flow_run_id from ops.runs where run_id = $run_id and "
    "stage = $stage)))"
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def write_row(con: Any, row: dict[str, Any]) -> None:
    """One ops.runs row (see runs.stage_row), inserted or replacing its (run, stage)."""
    con.execute(_UPSERT, row)


@dataclass(frozen=True)
class CrashedRun:
    """A run found `running` although nobody holds the warehouse: its process died."""

    run_id: str
    flow_name: str
    pid: int | None
    host: str | None
    flow_run_id: str | None


def _alive(pid: int | None, host: str | None) -> bool:
    if pid is None or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_crashed(con: Any, found_by: str) -> list[CrashedRun]:
    """Mark every `running` row of a run not open in this process `crashed`, with the time.

    The caller holds the warehouse lock, so no other process is running a run: a row still
    `running` belongs to a process that died (kill -9, power loss, OOM) without recording.
    """
    rows = con.execute(
        "select run_id, any_value(flow_name), max(pid), max(host), max(flow_run_id) "
        "from ops.runs where status = 'running' group by run_id order by run_id"
    ).fetchall()
    crashed = [CrashedRun(*row) for row in rows if row[0] not in ACTIVE_RUNS]
    for run in crashed:
        gone = (
            "its process is gone"
            if not _alive(run.pid, run.host)
            else f"pid {run.pid} now belongs to another process"
        )
        message = (
            f"crashed: process {run.pid} on {run.host} ended without finishing ({gone}); "
            f"found by run {found_by}"
        )
        con.execute(
            "update ops.runs set status = 'crashed', ended_at = $now, "
            "message = coalesce(message || ' | ', '') || $m "
            "where run_id = $r and status = 'running'",
            {"now": _now(), "m": message, "r": run.run_id},
        )
        log.warning("run %s (%s) %s", run.run_id, run.flow_name, message)
    return crashed


def replay_journal(con: Any, home: Path) -> int:
    """Write the journal's rows into ops.runs, oldest first, then remove them."""
    entries = journal.pending(home)
    for path, row in entries:
        write_row(con, row)
    for path, _ in entries:
        path.unlink(missing_ok=True)
    return len(entries)
