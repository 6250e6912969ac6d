"""Roll back to a previous model version: it becomes champion and scores from the next run."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.context import flow_run_context
from flows.hooks import record_failure
from flows.params import RollbackParams, param
from tasks.cluster import rollback_model_task


@flow(
    name="rollback_model",
    log_prints=True,
    on_failure=[record_failure],
    on_crashed=[record_failure],
    flow_run_name=lambda: f"rollback-{param(runtime.flow_run.parameters, 'model_version')}",
)
def rollback_model(params: RollbackParams) -> dict[str, Any]:
    """Make `model_version` the champion again; the current champion is retired."""
    with flow_run_context(params=params.model_dump(mode="json")) as (ctx, summary):
        summary.update(rollback_model_task(ctx, params.model_version))
    return summary


if __name__ == "__main__":
    import sys

    rollback_model(RollbackParams(model_version=sys.argv[1]))
