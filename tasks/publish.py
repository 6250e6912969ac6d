"""Publish tasks: the candidate segment table to validate, then the atomic write-back."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import task

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.publish import build_candidate, check_publishable, publish_segments
from tasks.retry import transient_only


@task(name="check_publishable")
def check_publishable_task(ctx: RunContext, as_of: date | None = None) -> None:
    """Refuse at once an as_of that can never be published (no retries: it is deterministic)."""
    with connect(ctx.settings) as con:
        check_publishable(con, as_of or ctx.as_of)


@task(name="build_segment_candidate")
def build_candidate_task(ctx: RunContext) -> int:
    """The table the customer_segments suite validates before publishing."""
    with ctx.stage("candidate") as details, connect(ctx.settings) as con:
        details["rows"] = build_candidate(con, ctx.settings, run_id=ctx.run_id, as_of=ctx.as_of)
    return details["rows"]


@task(
    name="publish_segments",
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=transient_only,
)
def publish_segments_task(ctx: RunContext, snapshot: bool = False) -> dict[str, Any]:
    """Publish this run's validated segments (retried once when the failure was transient)."""
    with ctx.stage("publish") as details, connect(ctx.settings) as con:
        details.update(
            publish_segments(
                con, ctx.settings, run_id=ctx.run_id, as_of=ctx.as_of, snapshot=snapshot
            )
        )
    return details
