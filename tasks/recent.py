"""Incremental scoring tasks: which customers loads touched since the last publish, their
segments from the champion, and the publish of the served table with their rows replaced."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import task

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.lifecycle import require_champion, score_customers
from segments.publish import build_recent_candidate, plan_recent, publish_recent
from tasks.retry import transient_only


@task(name="plan_recent")
def plan_recent_task(ctx: RunContext) -> dict[str, Any]:
    """The served as_of, the loads since the last publish and their customers; refuses
    without a champion (score-recent never trains). No retries: both are deterministic."""
    with ctx.stage("plan") as details, connect(ctx.settings) as con:
        champion = require_champion(con)
        plan = plan_recent(con, ctx.settings, ctx.run_id)
        details.update(plan.as_dict(), model_version=champion.model_version)
        details["feature_set"] = champion.feature_set
    return details


@task(name="score_touched_customers")
def score_touched_task(ctx: RunContext, feature_set: str) -> dict[str, Any]:
    """Score the touched customers with the champion (each row on its own, as the nightly)."""
    with ctx.stage("score") as details, connect(ctx.settings) as con:
        details.update(
            score_customers(
                con,
                run_id=ctx.run_id,
                as_of=ctx.as_of,
                feature_set_name=feature_set,
                threads=ctx.settings.model_threads,
                touched_by=ctx.run_id,
            )
        )
    return details


@task(name="build_recent_candidate")
def build_recent_candidate_task(ctx: RunContext) -> dict[str, int]:
    """The served table with the touched customers' rows replaced, to validate whole."""
    with ctx.stage("candidate") as details, connect(ctx.settings) as con:
        details.update(
            build_recent_candidate(con, ctx.settings, run_id=ctx.run_id, as_of=ctx.as_of)
        )
    return details


@task(
    name="publish_recent",
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=transient_only,
)
def publish_recent_task(ctx: RunContext, valid_from: date, loads: int) -> dict[str, Any]:
    """Publish the touched customers' segments atomically, history from the load day
    (retried once when the failure was transient)."""
    with ctx.stage("publish") as details, connect(ctx.settings) as con:
        details.update(
            publish_recent(
                con,
                ctx.settings,
                run_id=ctx.run_id,
                as_of=ctx.as_of,
                valid_from=valid_from,
                loads=loads,
            )
        )
    return details
