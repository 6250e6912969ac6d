"""A tiny world for publish tests: scores, catalog and features written straight into ops.

No tests here: imported by the publish tests and run as a script by the kill test's child
process (`python publish_world.py HOME RUN_ID AS_OF ASSIGNMENTS_JSON STEP MARKER`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from segments.core.db import connect
from segments.core.sql import apply_schema
from segments.settings import Settings

NAMES = {1: "Champions", 2: "Loyal", 3: "At Risk", 4: "Dormant"}


def world_settings(home: Path) -> Settings:
    """Settings for a home in tmp_path, with folders and warehouse schema in place."""
    settings = Settings(home=home, pii_key="test-key-not-secret")
    with connect(settings) as con:
        apply_schema(con, settings.sql_dir)
    return settings


def _features(customer: str, segment_id: int) -> dict[str, Any]:
    """Deterministic feature values per customer, so profiles are checkable."""
    spread = int(hashlib.sha256(customer.encode()).hexdigest()[:4], 16) % 50
    return {
        "recency_days": 10 * segment_id + spread,
        "frequency": 5 - segment_id + spread % 3,
        # fractions of a cent, as real sums and model outputs have: the publish rounds them
        "monetary": 100.0 * (5 - segment_id) + spread + 1 / 3,
        "clv": 50.0 + spread + 2 / 7,
    }


def prepare_run(
    settings: Settings,
    *,
    run_id: str,
    as_of: date,
    assignments: dict[str, int],
    model_version: str = "m1",
) -> None:
    """Write what score_customers and the features stage would have: one run's inputs."""
    with connect(settings) as con:
        for seg_id, name in NAMES.items():
            con.execute(
                "insert or ignore into ops.segment_catalog (model_version, segment_id, "
                "segment_name, description, action, centroid) values ($v, $id, $name, "
                "$description, $action, '[]')",
                {
                    "v": model_version,
                    "id": seg_id,
                    "name": name,
                    "description": f"{name} customers",
                    "action": f"treat as {name}",
                },
            )
        con.execute(
            "insert or ignore into ops.model_registry (model_version, trained_at, run_id, "
            "as_of, feature_set, algorithm, k, artifact_path, status) values ($v, "
            "now()::timestamp, $run, $as_of, 'retail', 'kmeans', 4, 'none', 'champion')",
            {"v": model_version, "run": run_id, "as_of": as_of},
        )
        rows = pd.DataFrame(
            [
                {
                    "as_of": as_of,
                    "customer_id": customer,
                    "segment_id": seg_id,
                    "segment_name": NAMES[seg_id],
                    **_features(customer, seg_id),
                }
                for customer, seg_id in sorted(assignments.items())
            ]
        )
        con.register("_rows", rows)
        con.execute(
            "create or replace table features.customer_features as select "
            "as_of::date as as_of, customer_id, 'Loyal' as rfm_segment, "
            "recency_days::integer as recency_days, frequency::integer as frequency, "
            "monetary, clv as predicted_clv from _rows"
        )
        con.execute("delete from ops.scores where run_id = $run", {"run": run_id})
        con.execute(
            "insert into ops.scores select $run, as_of::date, customer_id, segment_id, "
            "segment_name, $v from _rows",
            {"run": run_id, "v": model_version},
        )
        con.unregister("_rows")
        con.execute(
            "insert or replace into ops.runs (run_id, flow_name, stage, status, as_of, "
            "started_at) values ($run, 'nightly_segmentation', 'run', 'running', $as_of, "
            "now()::timestamp)",
            {"run": run_id, "as_of": as_of},
        )


def publish(
    settings: Settings,
    *,
    run_id: str,
    as_of: date,
    assignments: dict[str, int],
    model_version: str = "m1",
    **kwargs: Any,
) -> dict[str, Any]:
    """Prepare one run's inputs, build its candidate and publish it, as the flow would."""
    from segments.publish import build_candidate, publish_segments

    prepare_run(
        settings, run_id=run_id, as_of=as_of, assignments=assignments, model_version=model_version
    )
    with connect(settings) as con:
        build_candidate(con, settings, run_id=run_id, as_of=as_of)
        return publish_segments(con, settings, run_id=run_id, as_of=as_of, **kwargs)


def _publish_and_hang(
    home: str, run_id: str, as_of: str, assignments: str, stop_at: str, marker: str
) -> None:
    """Child process of the kill test: publish, and freeze at one step until killed."""

    def on_step(name: str) -> None:
        if name == stop_at:
            Path(marker).write_text(name)
            time.sleep(600)

    publish(
        world_settings(Path(home)),
        run_id=run_id,
        as_of=date.fromisoformat(as_of),
        assignments=json.loads(assignments),
        on_step=on_step,
    )


if __name__ == "__main__":
    _publish_and_hang(*sys.argv[1:7])
