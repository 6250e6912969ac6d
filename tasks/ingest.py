"""Ingest tasks: new landing files of every source, or one source's file or folder."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.ingest import ingest_landing_stage, ingest_one, summarise_loads


@task(name="ingest_landing", retries=2, retry_delay_seconds=[5, 30])
def ingest_landing_task(ctx: RunContext) -> dict[str, object]:
    """Load new landing files and refresh staging; retried because it is all file I/O."""
    with ctx.stage("ingest") as details, connect(ctx.settings) as con:
        details.update(ingest_landing_stage(con, ctx.settings, ctx.run_id))
    return details


@task(name="ingest_source", retries=2, retry_delay_seconds=[5, 30])
def ingest_source_task(ctx: RunContext, source: str, path: str) -> dict[str, object]:
    """On-demand load of one source (retried: file I/O)."""
    with ctx.stage("ingest") as details, connect(ctx.settings) as con:
        results = ingest_one(con, ctx.settings, source, Path(path), ctx.run_id)
        details.update(summarise_loads(results))
        details["loads"] = [r.as_dict() for r in results]
    return details
