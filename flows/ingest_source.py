"""Ingest one source on demand: a file or folder through a named mapping."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.hooks import run_id_of
from flows.params import IngestParams, param
from segments.locks import warehouse_lock
from segments.settings import Settings
from tasks.ingest import ingest_source_task
from tasks.warehouse import prepare_warehouse_task


@flow(
    name="ingest_source",
    log_prints=True,
    flow_run_name=lambda: f"ingest-{param(runtime.flow_run.parameters, 'source')}",
)
def ingest_source(params: IngestParams) -> dict[str, Any]:
    """Load new files of one source now, without running the rest of the pipeline."""
    settings = Settings()
    run_id = run_id_of(runtime.flow_run)
    with warehouse_lock(settings.home, run_id, timeout_s=settings.lock_timeout_seconds):
        prepare_warehouse_task(settings)
        return ingest_source_task(settings, params.source, params.path, run_id)


if __name__ == "__main__":
    import sys

    ingest_source(IngestParams(source=sys.argv[1], path=sys.argv[2]))
