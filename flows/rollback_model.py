"""Roll back to a previous model version: it becomes champion and scores from the next run."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.hooks import run_id_of
from flows.params import RollbackParams, param
from segments.locks import warehouse_lock
from segments.settings import Settings
from tasks.cluster import rollback_model_task
from tasks.warehouse import prepare_warehouse_task


@flow(
    name="rollback_model",
    log_prints=True,
    flow_run_name=lambda: f"rollback-{param(runtime.flow_run.parameters, 'model_version')}",
)
def rollback_model(params: RollbackParams) -> dict[str, Any]:
    """Make `model_version` the champion again; the current champion is retired."""
    settings = Settings()
    with warehouse_lock(
        settings.home, run_id_of(runtime.flow_run), timeout_s=settings.lock_timeout_seconds
    ):
        prepare_warehouse_task(settings)
        return rollback_model_task(settings, params.model_version)


if __name__ == "__main__":
    import sys

    rollback_model(RollbackParams(model_version=sys.argv[1]))
