"""Incremental scoring: after loads, recompute and publish only the customers they touched,
at the served as_of, with the champion model (no retrain, no monitoring, no report)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from prefect import flow

from flows.context import flow_run_context
from flows.facts import announce
from flows.hooks import record_failure
from tasks.features import build_features_task
from tasks.recent import (
    build_recent_candidate_task,
    plan_recent_task,
    publish_recent_task,
    score_touched_task,
)
from tasks.validate import validate


@flow(
    name="score-recent",
    log_prints=True,
    on_failure=[record_failure],
    on_crashed=[record_failure],
)
def score_recent() -> dict[str, Any]:
    """Customers touched by loads since the last publish: features (the nightly's stage, so
    they equal the nightly's at the served as_of), the gates, scores, and one atomic publish.
    Nothing new since the last publish: nothing is done."""
    with flow_run_context(keep_open=True) as (ctx, summary):
        plan = plan_recent_task(ctx)
        summary.update(run_id=ctx.run_id, plan=plan)
        if not plan["touched"]:
            print(f"no customer touched since the last publish ({plan['loads']} new loads)")
            return summary
        ctx = replace(ctx, as_of=date.fromisoformat(plan["as_of"]))
        feature_set = plan["feature_set"]
        summary["as_of"] = plan["as_of"]
        validate(ctx, "validate_staging", feature_set)
        summary["features"] = build_features_task(ctx)
        validate(ctx, "validate_features", feature_set)
        summary["score"] = announce("score", score_touched_task(ctx, feature_set))
        build_recent_candidate_task(ctx)
        validate(ctx, "validate_segments", feature_set)
        summary["publish"] = announce(
            "publish",
            publish_recent_task(ctx, date.fromisoformat(plan["valid_from"]), plan["loads"]),
        )
    return summary


if __name__ == "__main__":
    score_recent()
