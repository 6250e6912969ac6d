"""Retrain only: features as of a date, fit candidates, promote only a better model."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.context import flow_run_context
from flows.hooks import record_failure
from flows.params import RetrainParams, param
from tasks.cluster import fit_candidates
from tasks.features import build_features_task
from tasks.validate import validate


@flow(
    name="retrain_segments",
    log_prints=True,
    on_failure=[record_failure],
    on_crashed=[record_failure],
    flow_run_name=lambda: f"retrain-{param(runtime.flow_run.parameters, 'as_of') or 'today'}",
)
def retrain_segments(params: RetrainParams | None = None) -> dict[str, Any]:
    """Fit a challenger on current features; the champion changes only if it is beaten."""
    params = params or RetrainParams()
    as_of = params.resolved_as_of()
    with flow_run_context(as_of=as_of, params=params.model_dump(mode="json")) as (ctx, summary):
        build_features_task(ctx)
        validate(ctx, "validate_features", params.feature_set)
        summary.update(
            fit_candidates(
                ctx,
                params.feature_set,
                "always",
                params.train_config(ctx.settings.seed),
                params.promote,
            )
        )
    return summary


if __name__ == "__main__":
    retrain_segments()
