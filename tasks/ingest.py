"""Ingest tasks: new landing files of every source, or one source's file or folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prefect import task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.ingest import ingest_landing_stage, ingest_one, summarise_loads
from tasks.retry import transient_only


def progress_artifact(key: str) -> Callable[[str, float], None]:
    """A Prefect progress artifact for this task run, moved on as the load goes."""
    artifact_id = create_progress_artifact(0.0, key=key, description="starting")

    def show(what: str, fraction: float) -> None:
        update_progress_artifact(artifact_id, round(100 * fraction, 1), description=what)

    return show


@task(
    name="ingest_landing",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=transient_only,
)
def ingest_landing_task(ctx: RunContext) -> dict[str, object]:
    """Load new landing files and refresh staging; retried (transient failures only): file I/O."""
    progress = progress_artifact("ingest-landing")
    with ctx.stage("ingest") as details, connect(ctx.settings) as con:
        details.update(ingest_landing_stage(con, ctx.settings, ctx.run_id, progress))
    return details


@task(
    name="ingest_source",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=transient_only,
)
def ingest_source_task(ctx: RunContext, source: str, path: str) -> dict[str, object]:
    """On-demand load of one source (retried: file I/O)."""
    progress = progress_artifact("ingest-source")
    with ctx.stage("ingest") as details, connect(ctx.settings) as con:
        results = ingest_one(con, ctx.settings, source, Path(path), ctx.run_id, progress)
        details.update(summarise_loads(results))
        details["loads"] = [r.as_dict() for r in results]
    return details
