"""Monitoring tasks: drift and decay before training (with their Prefect events), and the
monitoring page after publishing, linked from the flow run's artifacts."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact
from prefect.events import emit_event
from prefect.logging import get_run_logger

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.monitor import monitor_stage
from segments.report import build_monitor_page


@task(name="monitor_models")
def monitor_models_task(ctx: RunContext) -> dict[str, Any]:
    """Drift and decay of this run; emits segments.drift.detected / segments.model.decayed."""
    logger = get_run_logger()
    with ctx.stage("monitor") as details, connect(ctx.settings) as con:
        details.update(monitor_stage(con, ctx.settings, run_id=ctx.run_id, as_of=ctx.as_of))
    for spec in details["events"]:
        emit_event(**spec)
        logger.warning("%s: %s", spec["event"], details["retrain_reason"])
    return details


@task(name="build_monitor_page")
def build_monitor_page_task(ctx: RunContext) -> str:
    """reports/monitor.html across every run, linked from this flow run's artifacts."""
    with ctx.stage("monitor_page") as details, connect(ctx.settings) as con:
        path = build_monitor_page(con, ctx.settings)
        details["path"] = str(path)
    create_link_artifact(
        link=path.resolve().as_uri(),
        link_text="Monitoring page (segment KPIs, drift, model quality, campaigns)",
        key="monitor-page",
        description="Self-contained HTML page across runs (opens offline in a browser).",
    )
    return str(path)
