"""Runs and their stages in ops.runs, and the one way a run starts: lock, prepare, record.

Every flow and every command that writes the warehouse opens a run with `open_run`: it takes
the warehouse lock, prepares the schema, replays the journal, marks runs that died `crashed`,
and records the run row and each stage's row under the real flow name (with the pid and host
that ran it), so ops.runs always says which flow did what.

Every failure is recorded, even when the warehouse cannot be opened (another run holds the
lock, another process holds warehouse.duckdb open): the row then goes to a journal,
SEGMENTS_HOME/.journal/, one small JSON file per row, which the next run that opens the
warehouse replays into ops.runs (`segments status` shows journal rows meanwhile).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from segments.core import journal
from segments.core.db import connect
from segments.core.errors import BusyError
from segments.core.locks import set_stage, warehouse_lock
from segments.core.recovery import (
    ACTIVE_RUNS,
    CrashedRun,
    mark_crashed,
    replay_journal,
    write_row,
)
from segments.core.warehouse import prepare_warehouse
from segments.settings import Settings

log = logging.getLogger(__name__)
RUN = "run"  # the stage name of the row that stands for the whole run
_ACTIVE = ACTIVE_RUNS  # runs open in this process (a backfill's run holds its subflows')


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def stage_row(
    run_id: str,
    stage: str,
    status: str,
    *,
    flow_name: str,
    as_of: date | None = None,
    started_at: datetime | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    flow_run_id: str | None = None,
) -> dict[str, Any]:
    """One ops.runs row as parameters (also the journal's format)."""
    return {
        "run_id": run_id,
        "flow_name": flow_name,
        "stage": stage,
        "status": status,
        "as_of": as_of,
        "started_at": started_at,
        "now": _now(),
        "ended_at": None if status == "running" else _now(),
        "message": message,
        "details": json.dumps(details, default=str) if details else None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "flow_run_id": flow_run_id,
    }


def record_stage(settings: Settings, run_id: str, stage: str, status: str, **kwargs: Any) -> None:
    """Insert or update one (run, stage) row; a short write of its own, never held open.

    When the warehouse cannot be opened (busy), the row goes to the journal instead.
    """
    row = stage_row(run_id, stage, status, **kwargs)
    try:
        with connect(settings) as con:
            write_row(con, row)
    except BusyError as error:
        journal.append(settings.home, row)
        log.warning("recorded %s/%s in the journal (%s)", run_id, stage, error)


def error_text(exc: BaseException) -> str:
    """How a failure is stored: the exception type and its message, bounded."""
    return f"{type(exc).__name__}: {exc}"[:4000]


@dataclass(frozen=True)
class RunContext:
    """What every task of a run needs: settings, run id, flow name and as_of (no connection)."""

    settings: Settings
    run_id: str
    flow_name: str
    as_of: date | None = None
    flow_run_id: str | None = None

    def record(self, stage: str, status: str, **kwargs: Any) -> None:
        """One ops.runs row of this run, under this run's flow name."""
        record_stage(
            self.settings,
            self.run_id,
            stage,
            status,
            flow_name=self.flow_name,
            as_of=kwargs.pop("as_of", self.as_of),
            flow_run_id=self.flow_run_id,
            **kwargs,
        )

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        """Record a stage as running, then completed (with details) or failed (with the error)."""
        details: dict[str, Any] = {}
        started = _now()
        self.record(name, "running", started_at=started)
        set_stage(self.settings.home, name)
        try:
            yield details
        except BaseException as exc:
            self.record(
                name, "failed", started_at=started, message=error_text(exc), details=details
            )
            raise
        finally:
            set_stage(self.settings.home, None)
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
    flow_run_id: str | None = None,
    on_recovered: Callable[[list[CrashedRun]], None] | None = None,
    finish: Callable[[Settings], None] | None = None,
    keep_open: bool = False,
) -> Iterator[tuple[RunContext, dict[str, Any]]]:
    """Hold the warehouse for one run: lock, prepare, recover, then the run row start to end.

    Yields the context tasks take and a dict the caller fills with the run's summary; it is
    stored on the run row when the block ends (completed), or the error is (failed).
    `on_recovered` gets the runs this one found crashed (e.g. to mark them in Prefect);
    `finish` runs last, still holding the lock (e.g. a status snapshot for readers).

    `keep_open`: one connection held from after prepare until the lock is released. Each
    stage still opens and closes its own connection, but DuckDB then hands out one more
    connection to the open database instead of loading the file again, and a close no
    longer checkpoints: a run's dozens of opens cost milliseconds, not tens of ms each, and
    the data read by one stage stays cached for the next. Only for runs that never replace
    the warehouse file (`forget` swaps it) and never open it read-only (a read-only open in
    the same process is refused while a read-write one is held).
    """
    context = RunContext(settings, run_id, flow_name, as_of, flow_run_id)
    summary: dict[str, Any] = {}

    def journal_failure(exc: BaseException) -> None:
        row = stage_row(
            run_id,
            RUN,
            "failed",
            flow_name=flow_name,
            as_of=as_of,
            message=error_text(exc),
            details=params,
            flow_run_id=flow_run_id,
        )
        journal.append(settings.home, row)

    try:
        lock = warehouse_lock(
            settings.home,
            f"{flow_name} run {run_id}",
            run_id=run_id,
            timeout_s=settings.lock_timeout_seconds,
        )
        lock.__enter__()
    except BusyError as exc:
        journal_failure(exc)  # the holder's next run records it in ops.runs
        raise
    prepared = False
    held = ExitStack()  # the kept-open connection, closed before the lock is released
    try:
        _ACTIVE.add(run_id)
        try:
            prepare(settings)
            with connect(settings) as con:
                replay_journal(con, settings.home)
                crashed = mark_crashed(con, run_id)
        except BusyError as exc:
            journal_failure(exc)
            raise
        prepared = True
        if keep_open:  # after prepare: recovery may have replaced the file
            held.enter_context(connect(settings))
        if crashed and on_recovered is not None:
            try:
                on_recovered(crashed)
            except Exception:  # recovery bookkeeping never stops a run
                log.warning("could not mark crashed runs elsewhere", exc_info=True)
        context.record(RUN, "running", details=params)
        try:
            yield context, summary
        except BaseException as exc:
            context.record(RUN, "failed", message=error_text(exc), details=summary or params)
            raise
        context.record(RUN, "completed", details=summary or params)
    finally:
        _ACTIVE.discard(run_id)
        try:
            if finish is not None and prepared:
                finish(settings)
        except Exception:
            log.warning("could not write the status snapshot", exc_info=True)
        finally:
            try:
                held.close()  # the checkpoint of the run's writes, still under the lock
            except Exception:  # the write-ahead log keeps them; the next open replays it
                log.warning("could not close the warehouse cleanly", exc_info=True)
            finally:
                lock.__exit__(None, None, None)
