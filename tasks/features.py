"""Feature task: point-in-time features and the probabilistic CLV for the run's as_of."""

from __future__ import annotations

from typing import Any

from prefect import task

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.features import build_feature_stage


@task(name="build_features")
def build_features_task(ctx: RunContext) -> dict[str, Any]:
    """Compute point-in-time features as of the run's as_of."""
    with ctx.stage("features") as details, connect(ctx.settings) as con:
        details.update(build_feature_stage(con, ctx.settings, ctx.as_of))
    return details
