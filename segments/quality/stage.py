"""A validation stage of a run: which suites it runs, where its Data Docs go, what it shows.

The three gates of the nightly run are named here once; flows and tasks refer to them by
name (`validate_staging`, `validate_features`, `validate_segments`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from segments.quality.offline_docs import make_offline
from segments.settings import Settings

if TYPE_CHECKING:  # importing the suites imports Great Expectations (seconds): on first use
    from segments.quality.suites import SuiteOutcome

VALIDATION_STAGES: dict[str, tuple[str, ...]] = {
    "validate_staging": ("stg_transactions", "stg_customers", "stg_events"),
    "validate_features": ("customer_features",),
    "validate_segments": ("customer_segments",),
}

_TABLE_COLUMNS = [
    "suite",
    "expectation_type",
    "column_name",
    "severity",
    "success",
    "observed_value",
    "unexpected_count",
]


def docs_dir(settings: Settings, run_id: str) -> Path:
    """Where this run's Data Docs go: SEGMENTS_HOME/reports/<run_id>/data_docs/."""
    return settings.reports_dir / run_id / "data_docs"


def suite_params(
    settings: Settings, *, run_id: str, as_of: date, feature_set: str
) -> dict[str, Any]:
    """The run facts every suite may refer to ($as_of, $date_floor, ...)."""
    return {
        "as_of": as_of,
        "date_floor": settings.date_floor,
        "run_id": run_id,
        "feature_set": feature_set,
    }


def run_stage_suites(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    stage: str,
    *,
    run_id: str,
    params: dict[str, Any],
    suites: list[str] | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> list[SuiteOutcome]:
    """Validate one stage's suites together (one GX context); gating is left to the caller.

    `suites` narrows the stage to some of its relations (a flow that rebuilt only one);
    `keep` to some of their expectations (those not already checked on each bucket).
    """
    from segments.quality.suites import validate_suites

    if stage not in VALIDATION_STAGES:
        raise KeyError(f"unknown validation stage {stage!r}; known: {sorted(VALIDATION_STAGES)}")
    outcomes = validate_suites(
        con,
        suites or list(VALIDATION_STAGES[stage]),
        expectations_dir=settings.expectations_dir,
        run_id=run_id,
        stage=stage,
        params=params,
        docs_dir=docs_dir(settings, run_id),
        db_path=settings.warehouse_path,
        keep=keep,
        data_docs=settings.data_docs,
    )
    make_offline(con, docs_dir(settings, run_id), run_id)  # no CDN; an index that lists all
    return outcomes


def results_table(outcomes: list[SuiteOutcome]) -> list[dict[str, Any]]:
    """Rows for the Prefect table artifact: failures first, then the rest, suite by suite."""
    rows = []
    for outcome in outcomes:
        for row in outcome.results[_TABLE_COLUMNS].to_dict("records"):
            count = row["unexpected_count"]
            rows.append(
                {
                    **row,
                    "success": bool(row["success"]),
                    "column_name": row["column_name"] or "",
                    "unexpected_count": None if pd.isna(count) else int(count),
                }
            )
    return sorted(rows, key=lambda row: (row["success"], row["severity"] != "critical"))


def stage_summary(outcomes: list[SuiteOutcome]) -> dict[str, Any]:
    """Per-suite counts and seconds, for ops.runs details and the run report."""
    return {
        outcome.suite: {
            "expectations": len(outcome.results),
            "critical_failures": len(outcome.critical_failures),
            "warnings": len(outcome.warnings),
            "seconds": round(outcome.seconds, 2),
        }
        for outcome in outcomes
    }
