"""Validation task: one stage's suites, results as artifacts, and the gate on the flow."""

from __future__ import annotations

import re
from typing import Any

from prefect import runtime, task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.logging import get_run_logger

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.quality import (
    SuiteOutcome,
    describe,
    docs_dir,
    raise_on_critical,
    results_table,
    run_stage_suites,
    stage_summary,
    suite_params,
)


def artifact_key(kind: str, stage: str) -> str:
    """Prefect keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"dq-{kind}-{stage}".lower()).strip("-")


def validation_run_name() -> str:
    """Task runs read `validate[staging]`, `validate[features]`, ... in the Prefect UI."""
    stage = str(runtime.task_run.parameters.get("stage", ""))
    return f"validate[{stage.removeprefix('validate_')}]"


@task(name="validate", task_run_name=validation_run_name)
def validate(
    ctx: RunContext, stage: str, feature_set: str, suites: list[str] | None = None
) -> list[SuiteOutcome]:
    """Validate a stage's suites, publish results as artifacts, then stop on a critical failure."""
    params: dict[str, Any] = suite_params(
        ctx.settings, run_id=ctx.run_id, as_of=ctx.as_of, feature_set=feature_set
    )
    with ctx.stage(stage) as details:
        with connect(ctx.settings) as con:
            outcomes = run_stage_suites(
                con, ctx.settings, stage, run_id=ctx.run_id, params=params, suites=suites
            )
        report_and_gate(ctx, stage, details, outcomes)
    return outcomes


def report_and_gate(
    ctx: RunContext, stage: str, details: dict[str, Any], outcomes: list[SuiteOutcome]
) -> None:
    """What a validation stage shows (ops.runs details, warnings, artifacts), then its gate:
    the same whether the suites ran in one process or on customer buckets."""
    logger = get_run_logger()
    details["suites"] = stage_summary(outcomes)
    for failure in (f for outcome in outcomes for f in outcome.warnings):
        logger.warning("data-quality warning: %s", describe(failure))
    create_table_artifact(
        table=results_table(outcomes),
        key=artifact_key("results", stage),
        description=f"Data-quality results of {stage} in run {ctx.run_id} (ops.dq_results).",
    )
    index = docs_dir(ctx.settings, ctx.run_id) / "index.html"
    if index.exists():
        create_link_artifact(
            link=index.as_uri(),
            link_text=f"Data Docs of run {ctx.run_id}",
            key=artifact_key("docs", stage),
            description="Great Expectations Data Docs of the run (work offline: no CDN).",
        )
    raise_on_critical(outcomes)
