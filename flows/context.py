"""The one preamble of every flow: settings, run id, lock, warehouse prepare, ops.runs rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from prefect import runtime

from flows.hooks import run_id_of
from segments.core.runs import RunContext, open_run
from segments.core.startup import start_process
from segments.settings import Settings
from tasks.warehouse import prepare_warehouse_task


@contextmanager
def flow_run_context(
    *, as_of: date | None = None, params: dict[str, Any] | None = None
) -> Iterator[tuple[RunContext, dict[str, Any]]]:
    """Open this flow run as a pipeline run; every row it records carries the flow's name."""
    settings = start_process(Settings())  # a weak production key stops here; files 600/700
    with open_run(
        settings,
        run_id_of(runtime.flow_run),
        runtime.flow_run.flow_name,
        as_of=as_of,
        params=params,
        prepare=prepare_warehouse_task,
    ) as opened:
        yield opened


@contextmanager
def cycle_run_context(
    cycle: int, *, lock_timeout_s: float, params: dict[str, Any] | None = None
) -> Iterator[tuple[RunContext, dict[str, Any]]]:
    """One cycle of a long-running flow (the watcher) as a pipeline run of its own: the lock
    is held for the cycle, never for the whole flow run, and waited for at most lock_timeout_s
    (then WarehouseBusyError, and the cycle is tried again later)."""
    settings = Settings().model_copy(update={"lock_timeout_seconds": lock_timeout_s})
    with open_run(
        settings,
        f"{run_id_of(runtime.flow_run)}-{cycle}",
        runtime.flow_run.flow_name,
        params=params,
        prepare=prepare_warehouse_task,
    ) as opened:
        yield opened
