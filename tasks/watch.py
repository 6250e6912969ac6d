"""Watch tasks: load the landing files that are ready, then emit one Prefect event per load."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.events import emit_event

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.ingest import LoadResult, summarise_loads
from segments.watch import LandedFile, load_event, load_landed


@task(name="load_landed_files")
def load_landed_task(ctx: RunContext, files: list[LandedFile]) -> list[LoadResult]:
    """Load this cycle's ready files (no retries: the next cycle is the retry)."""
    with ctx.stage("ingest") as details, connect(ctx.settings) as con:
        results = load_landed(con, ctx.settings, files, ctx.run_id)
        details.update(summarise_loads(results))
        details["loads"] = [r.as_dict() for r in results]
    return results


@task(name="emit_load_events")
def emit_load_events(results: list[LoadResult], run_id: str) -> list[dict[str, Any]]:
    """`segments.load.completed` (or `.failed`) per load, after the cycle's run committed."""
    events = [e for r in results if (e := load_event(r, run_id)) is not None]
    for event in events:
        emit_event(**event)
    return events
