"""Feature stage: the warehouse/features SQL as of a date, plus its lake copy."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
from prefect import task

from segments.db import connect
from segments.feature_sets import FEATURE_PARAMS_DEFAULTS
from segments.runs import stage
from segments.settings import Settings
from segments.sql import run_layer
from tasks.ingest import export_table


def build_features(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                   overrides: dict[str, Any] | None = None) -> dict[str, int]:
    """Run every feature model as of `as_of`; nothing on or after it is read."""
    params = {**FEATURE_PARAMS_DEFAULTS, **(overrides or {}), "as_of": as_of}
    counts = run_layer(con, settings.sql_dir, "features", params)
    folder = settings.lake_dir / "features" / "customer_features" / f"as_of={as_of.isoformat()}"
    export_table(con, "features.customer_features", folder)
    return counts


@task(name="build_features")
def build_features_task(settings: Settings, run_id: str, as_of: date) -> dict[str, Any]:
    """Compute point-in-time features for the run's as_of."""
    with stage(settings, run_id, "features", as_of=as_of) as details, connect(settings) as con:
        details["rows"] = build_features(con, settings, as_of)
    return details
