"""The one preamble of every flow: settings, run id, lock, warehouse prepare, ops.runs rows.

A run that finds others crashed (their process died while `running`) also marks their Prefect
flow runs Crashed, so the UI stops showing them as running.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from prefect import runtime

from flows.hooks import run_id_of
from segments.core.runs import CrashedRun, RunContext, open_run
from segments.core.startup import start_process
from segments.report import write_status_snapshot
from segments.settings import Settings
from tasks.warehouse import prepare_warehouse_task

log = logging.getLogger(__name__)


def mark_crashed_in_prefect(crashed: list[CrashedRun]) -> None:
    """Set the Prefect state of each crashed run's flow run to Crashed (when still running)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        for run in crashed:
            if not run.flow_run_id:
                continue
            try:
                flow_run = client.read_flow_run(run.flow_run_id)
                if flow_run.state is None or flow_run.state.is_final():
                    continue
                client.set_flow_run_state(
                    run.flow_run_id,
                    Crashed(message=f"process {run.pid} on {run.host} died (found by segments)"),
                    force=True,
                )
            except Exception as error:  # noqa: BLE001 - another server's run, or deleted
                log.warning("could not mark flow run %s crashed: %s", run.flow_run_id, error)


@contextmanager
def flow_run_context(
    *, as_of: date | None = None, params: dict[str, Any] | None = None, keep_open: bool = False
) -> Iterator[tuple[RunContext, dict[str, Any]]]:
    """Open this flow run as a pipeline run; every row it records carries the flow's name.

    `keep_open`: the warehouse stays open for the whole run (open_run says when that is safe).
    """
    settings = start_process(Settings())  # a weak production key stops here; files 600/700
    with open_run(
        settings,
        run_id_of(runtime.flow_run),
        runtime.flow_run.flow_name,
        as_of=as_of,
        params=params,
        prepare=prepare_warehouse_task,
        flow_run_id=str(runtime.flow_run.id),
        on_recovered=mark_crashed_in_prefect,
        finish=write_status_snapshot,
        keep_open=keep_open,
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
        flow_run_id=str(runtime.flow_run.id),
        on_recovered=mark_crashed_in_prefect,
    ) as opened:
        yield opened
