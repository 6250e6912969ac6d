"""Report stage: write the run's self-contained HTML report and link it from the Prefect UI."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb
from prefect import task
from prefect.artifacts import create_link_artifact

from segments.db import connect
from segments.runs import stage
from segments.settings import Settings

log = logging.getLogger(__name__)


def report_path(settings: Settings, run_id: str) -> Path:
    """reports/<run_id>/index.html under the settings' home."""
    from segments.report.render import safe_dirname

    return settings.reports_dir / safe_dirname(run_id) / "index.html"


def build_report(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> Path:
    """Write reports/<run_id>/index.html and reports/latest/index.html; return the first."""
    from segments.report.data import load_report_data
    from segments.report.render import render_html, write_atomic

    started = time.perf_counter()
    data = load_report_data(con, run_id, seed=settings.seed, threads=settings.model_threads)
    page, charts = render_html(data)
    path = write_atomic(report_path(settings, run_id), page)
    write_atomic(settings.reports_dir / "latest" / "index.html", page)
    log.info(
        "report of run %s: %d charts, %.1f MB, %.1f s -> %s",
        run_id,
        charts,
        len(page.encode()) / 1e6,
        time.perf_counter() - started,
        path,
    )
    return path


@task(name="build_report")
def build_report_task(settings: Settings, run_id: str) -> str:
    """Build the report after publishing and link it from the flow run's artifacts."""
    with stage(settings, run_id, "report") as details, connect(settings) as con:
        path = build_report(con, settings, run_id)
        details["path"] = str(path)
    create_link_artifact(
        link=path.resolve().as_uri(),
        link_text=f"Run report {run_id}",
        key="run-report",
        description=f"Self-contained HTML report of run {run_id} (opens "
        "offline in a browser; also at reports/latest/).",
    )
    return str(path)
