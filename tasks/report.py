"""Report tasks: the run's HTML report and the markdown summary, linked in the Prefect UI."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.report import build_report, run_summary


@task(name="build_report")
def build_report_task(ctx: RunContext) -> str:
    """Build the report after publishing and link it from the flow run's artifacts."""
    with ctx.stage("report") as details, connect(ctx.settings) as con:
        path = build_report(con, ctx.settings, ctx.run_id)
        details["path"] = str(path)
    create_link_artifact(
        link=path.resolve().as_uri(),
        link_text=f"Run report {ctx.run_id}",
        key="run-report",
        description=f"Self-contained HTML report of run {ctx.run_id} (opens "
        "offline in a browser; also at reports/latest/).",
    )
    return str(path)


@task(name="summarise_run")
def summarise_run(ctx: RunContext) -> str:
    """Publish the run's markdown summary artifact (stages, loads, model, segments)."""
    with connect(ctx.settings) as con:
        markdown = run_summary(con, ctx.run_id)
    create_markdown_artifact(
        markdown=markdown,
        key="nightly-summary",
        description=f"Nightly segmentation run {ctx.run_id}",
    )
    return markdown
