"""Publish tasks: the candidate segment table to validate, then the atomic write-back."""

from __future__ import annotations

from typing import Any

from prefect import task

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.publish import build_candidate, publish_segments


@task(name="build_segment_candidate")
def build_candidate_task(ctx: RunContext) -> int:
    """The table the customer_segments suite validates before publishing."""
    with ctx.stage("candidate") as details, connect(ctx.settings) as con:
        details["rows"] = build_candidate(con, ctx.settings, run_id=ctx.run_id, as_of=ctx.as_of)
    return details["rows"]


@task(name="publish_segments", retries=1, retry_delay_seconds=10)
def publish_segments_task(ctx: RunContext, snapshot: bool = False) -> dict[str, Any]:
    """Publish this run's validated segments (retried once: file I/O; a retry redoes it)."""
    with ctx.stage("publish") as details, connect(ctx.settings) as con:
        details.update(
            publish_segments(
                con, ctx.settings, run_id=ctx.run_id, as_of=ctx.as_of, snapshot=snapshot
            )
        )
    return details
