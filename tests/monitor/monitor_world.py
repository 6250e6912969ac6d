"""A tiny warehouse for monitoring tests: scores, catalog, features and transactions written
straight into their tables, then published with the real publish stage. No tests here."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from segments.core.db import connect
from segments.core.sql import apply_schema
from segments.settings import Settings

NAMES = {1: "Champions", 2: "Dormant"}


def world_settings(home: Path, **overrides: Any) -> Settings:
    settings = Settings(home=home, pii_key="test-key-not-secret", **overrides)
    with connect(settings) as con:
        apply_schema(con, settings.sql_dir)
        con.execute(
            "insert into ops.model_registry (model_version, trained_at, run_id, as_of, "
            "feature_set, algorithm, k, artifact_path, status, promoted_at) values ('m1', "
            "now()::timestamp, 'r0', '2025-06-01', 'retail', 'kmeans', 2, 'none', "
            "'champion', now()::timestamp)"
        )
        for seg_id, name in NAMES.items():
            con.execute(
                "insert into ops.segment_catalog (model_version, segment_id, segment_name, "
                "description, action, centroid) values ('m1', $id, $name, 'd', 'a', '[]')",
                {"id": seg_id, "name": name},
            )
    return settings


def add_lines(settings: Settings, lines: list[tuple[str, datetime, float]]) -> None:
    """Purchase lines (customer, when, revenue) of one unit each."""
    with connect(settings) as con:
        n = con.execute("select count(*) from staging.stg_transactions").fetchone()[0]
        for i, (customer, when, revenue) in enumerate(lines, start=n):
            con.execute(
                "insert into staging.stg_transactions values ('t', 'l1', $i, $inv, 'P', 'p', "
                "1, $price, $at, $c, 'UK', false, $price)",
                {"i": i, "inv": f"I{i}", "price": revenue, "at": when, "c": customer},
            )


def publish(settings: Settings, run_id: str, as_of: date, assignments: dict[str, int]) -> dict:
    """Write one run's scores and features, build the candidate and publish it."""
    from segments.publish import build_candidate, publish_segments

    rows = pd.DataFrame(
        [
            {"customer_id": c, "segment_id": s, "segment_name": NAMES[s], "as_of": as_of}
            for c, s in sorted(assignments.items())
        ]
    )
    with connect(settings) as con:
        con.register("_rows", rows)
        con.execute(
            "create or replace table features.customer_features as select as_of, customer_id, "
            "'Loyal' as rfm_segment, 10 as recency_days, 2 as frequency, 100.0 as monetary, "
            "50.0 as predicted_clv from _rows"
        )
        con.execute("delete from features.customer_clv")
        con.execute(
            "insert into features.customer_clv by name select as_of, customer_id, "
            "0.8 as p_alive, 1.0 as clv, 12 as horizon_months, 0.01 as monthly_discount_rate "
            "from _rows"
        )
        con.execute(
            "insert into ops.scores select $r, as_of, customer_id, segment_id, segment_name, "
            "'m1' from _rows",
            {"r": run_id},
        )
        con.unregister("_rows")
        build_candidate(con, settings, run_id=run_id, as_of=as_of)
        return publish_segments(con, settings, run_id=run_id, as_of=as_of)


def at(day: date, hours: int = 12) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hours)
