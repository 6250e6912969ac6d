"""The monitoring marts of a publish: segment KPIs (and matured retention), campaign results.

Called inside the publish transaction (segments.publish) after the segment marts, so a
failed publish writes none of them and a re-run of an as_of replaces its rows.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import duckdb

from segments.core.sql import run_model, run_script
from segments.settings import Settings


def uplift_z(confidence: float) -> float:
    """Two-sided normal quantile of a confidence level (0.95 -> 1.96)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def write_monitor_marts(
    con: duckdb.DuckDBPyConnection, settings: Settings, params: dict[str, Any]
) -> dict[str, int]:
    """Append this publish's segment KPIs, fill matured retention, rebuild campaign results.

    `params` are the publish's ($run_id, $as_of, $previous_as_of).
    """
    sql_dir = settings.sql_dir
    kpis = run_model(
        con, sql_dir, "marts", "segment_kpis", {**params, "window_days": settings.kpi_window_days}
    )
    run_script(
        con,
        sql_dir / "publish" / "fill_kpi_retention.sql",
        {"as_of": params["as_of"], "horizon_days": settings.monitor_horizon_days},
    )
    campaigns = run_model(
        con,
        sql_dir,
        "marts",
        "campaign_results",
        {
            **params,
            "z": uplift_z(settings.uplift_confidence),
            "confidence": settings.uplift_confidence,
        },
    )
    return {"segment_kpis": kpis, "campaign_results": campaigns}
