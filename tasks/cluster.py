"""Model tasks: retrain when due and promote only a better model; score; roll back."""

from __future__ import annotations

from typing import Any

from prefect import task

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.lifecycle import RetrainMode, rollback_model, score_customers, train_stage
from segments.models import TrainConfig
from segments.monitor import save_reference


@task(name="fit_candidates")
def fit_candidates(
    ctx: RunContext,
    feature_set: str,
    retrain: RetrainMode,
    config: TrainConfig,
    monitor_reason: str | None = None,
    promote: bool = False,
    training_files: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Retrain when due (or asked, or monitoring saw drift/decay); promote by the rule or on
    request; save the new model's training distribution for drift. `training_files`: the
    customer buckets' model inputs (a partitioned run reads its sample from them)."""
    with ctx.stage("train") as details, connect(ctx.settings) as con:
        details.update(
            train_stage(
                con,
                ctx.settings,
                run_id=ctx.run_id,
                as_of=ctx.as_of,
                feature_set=feature_set,
                retrain=retrain,
                config=config,
                monitor_reason=monitor_reason,
                promote=promote,
                files=training_files,
            )
        )
        if details.get("trained"):
            details["reference"] = str(save_reference(con, details["model_version"]))
    return details


@task(name="score_customers")
def score_customers_task(ctx: RunContext, feature_set: str) -> dict[str, Any]:
    """Score every customer with the champion."""
    with ctx.stage("score") as details, connect(ctx.settings) as con:
        details.update(
            score_customers(
                con,
                run_id=ctx.run_id,
                as_of=ctx.as_of,
                feature_set_name=feature_set,
                threads=ctx.settings.model_threads,
            )
        )
    return details


@task(name="rollback_model")
def rollback_model_task(ctx: RunContext, model_version: str) -> dict[str, Any]:
    """Roll the champion back to an earlier version."""
    with ctx.stage("rollback") as details, connect(ctx.settings) as con:
        details.update(rollback_model(con, model_version))
    return details
