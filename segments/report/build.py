"""Build the run report: reports/<run_id>/index.html and reports/latest/index.html."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb

from segments.report.charts import preload_charts
from segments.report.data import load_report_data
from segments.report.render import render_html, safe_dirname, write_atomic
from segments.report.retention import prune_reports
from segments.settings import Settings

log = logging.getLogger(__name__)


def preload_report() -> None:
    """Import the report's libraries (pandas, SciPy via the profiles, plotly) and load its
    plotly template; importing this module already did the first part."""
    preload_charts()


def report_path(settings: Settings, run_id: str) -> Path:
    """reports/<run_id>/index.html under the settings' home."""
    return settings.reports_dir / safe_dirname(run_id) / "index.html"


def build_report(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> Path:
    """Write reports/<run_id>/index.html and reports/latest/index.html; return the first."""
    started = time.perf_counter()
    data = load_report_data(
        con, run_id, seed=settings.seed, threads=settings.model_threads, currency=settings.currency
    )
    page, charts = render_html(data)
    path = write_atomic(report_path(settings, run_id), page)
    write_atomic(settings.reports_dir / "latest" / "index.html", page)
    pruned = prune_reports(settings, keep_run=path.parent.name)
    log.info(
        "report of run %s: %d charts, %.1f MB, %.1f s -> %s (%d old run folders removed)",
        run_id,
        charts,
        len(page.encode()) / 1e6,
        time.perf_counter() - started,
        path,
        len(pruned),
    )
    return path
