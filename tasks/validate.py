"""Validation stage: run expectation suites against the warehouse, report, and gate the flow."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from prefect import task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.logging import get_run_logger

from segments.db import connect
from segments.quality import SuiteOutcome, describe, raise_on_critical, validate_suites
from segments.runs import stage as record
from segments.settings import Settings

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


def run_suites(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    suites: list[str],
    *,
    run_id: str,
    stage: str,
    params: dict[str, Any],
) -> list[SuiteOutcome]:
    """Validate a stage's suites together (one GX context); gating is left to the caller."""
    return validate_suites(
        con,
        suites,
        expectations_dir=settings.expectations_dir,
        run_id=run_id,
        stage=stage,
        params=params,
        docs_dir=docs_dir(settings, run_id),
        db_path=settings.warehouse_path,
    )


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


def artifact_key(kind: str, stage: str) -> str:
    """Prefect keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"dq-{kind}-{stage}".lower()).strip("-")


def summary(outcomes: list[SuiteOutcome]) -> dict[str, Any]:
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


@task(name="validate")
def validate(
    settings: Settings, suites: list[str], run_id: str, stage: str, params: dict[str, Any]
) -> list[SuiteOutcome]:
    """Validate suites, publish results as artifacts, then stop the flow on a critical failure."""
    logger = get_run_logger()
    with record(settings, run_id, stage, as_of=params.get("as_of")) as details:
        with connect(settings) as con:
            outcomes = run_suites(con, settings, suites, run_id=run_id, stage=stage, params=params)
        details["suites"] = summary(outcomes)
        for failure in (f for outcome in outcomes for f in outcome.warnings):
            logger.warning("data-quality warning: %s", describe(failure))
        create_table_artifact(
            table=results_table(outcomes),
            key=artifact_key("results", stage),
            description=f"Data-quality results of {stage} in run {run_id} (ops.dq_results).",
        )
        index = docs_dir(settings, run_id) / "index.html"
        if index.exists():
            create_link_artifact(
                link=index.as_uri(),
                link_text=f"Data Docs of run {run_id}",
                key=artifact_key("docs", stage),
                description="Great Expectations Data Docs (offline they render unstyled).",
            )
        raise_on_critical(outcomes)
    return outcomes
