"""Ingest one source on demand: a file or folder through a named mapping."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.context import flow_run_context
from flows.hooks import record_failure
from flows.params import IngestParams, param
from tasks.ingest import ingest_source_task


@flow(
    name="ingest_source",
    log_prints=True,
    on_failure=[record_failure],
    on_crashed=[record_failure],
    flow_run_name=lambda: f"ingest-{param(runtime.flow_run.parameters, 'source')}",
)
def ingest_source(params: IngestParams) -> dict[str, Any]:
    """Load new files of one source now, without running the rest of the pipeline."""
    run_params = params.model_dump(mode="json")
    with flow_run_context(params=run_params, keep_open=True) as (ctx, summary):
        summary.update(ingest_source_task(ctx, params.source, params.path))
    return summary


if __name__ == "__main__":
    import sys

    ingest_source(IngestParams(source=sys.argv[1], path=sys.argv[2]))
