"""A bad row in one customer bucket stops a run on a real 2-worker Dask LocalCluster at the
feature gate: the message names the check and the bucket, and the last published segments
stay served."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.nightly_segmentation import nightly_segmentation
from flows.params import NightlyParams
from segments.core.sql import apply_schema
from segments.demo.generate import generate_demo
from segments.quality import CriticalExpectationError
from segments.settings import Settings

AS_OF = date(2026, 1, 1)
ROOT = Path(__file__).resolve().parents[2]


def _project_refusing(folder: Path, customer_id: str) -> Path:
    """A copy of the project whose feature suite calls one customer's row bad (a row-level
    critical check: it runs on that customer's bucket only)."""
    shutil.copytree(ROOT / "warehouse", folder / "warehouse")
    shutil.copytree(ROOT / "expectations", folder / "expectations")
    path = folder / "expectations" / "customer_features.json"
    suite = json.loads(path.read_text())
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_not_be_in_set",
            "kwargs": {"column": "customer_id", "value_set": [customer_id]},
            "meta": {"severity": "critical", "why": "test: this customer's row is bad"},
        }
    )
    path.write_text(json.dumps(suite))
    return folder


def _served(home: Path) -> pd.DataFrame:
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        return con.execute("select * from customer_segments order by customer_id").df()


def test_a_bad_row_in_one_bucket_fails_the_gate_and_nothing_is_published(
    prefect_harness, segments_home, tmp_path, monkeypatch, dask_address
):
    monkeypatch.setenv("SEGMENTS_PARTITIONS", "4")
    monkeypatch.setenv("SEGMENTS_DASK_ADDRESS", dask_address)
    generate_demo(segments_home / "landing", customers=300, seed=5)
    nightly_segmentation(NightlyParams(as_of=AS_OF, retrain="always"))
    before = _served(segments_home)
    bad = before["customer_id"].iloc[17]
    with duckdb.connect() as con:
        apply_schema(con, Settings().sql_dir)
        bucket = con.execute("select customer_bucket($c, 4)", {"c": bad}).fetchone()[0]

    monkeypatch.setenv("SEGMENTS_PROJECT_DIR", str(_project_refusing(tmp_path / "project", bad)))
    with pytest.raises(CriticalExpectationError) as raised:
        nightly_segmentation(NightlyParams(as_of=AS_OF, retrain="never"))  # a rerun
    message = str(raised.value)
    assert "1 critical expectation(s) failed" in message
    assert (
        "customer_features (features.customer_features): "
        "expect_column_values_to_not_be_in_set(column=customer_id) "
        f"observed bucket {bucket}: 1 of " in message
    )
    pd.testing.assert_frame_equal(_served(segments_home), before)  # the last publish stays
    with duckdb.connect(str(segments_home / "warehouse.duckdb"), read_only=True) as con:
        stages = con.execute(
            "select stage, status from ops.runs where run_id = (select run_id from ops.runs "
            "where stage = 'run' order by started_at desc limit 1) order by started_at"
        ).fetchall()
        published = con.execute("select distinct run_id from marts.customer_segments").fetchall()
    assert ("validate_features", "failed") in stages
    assert not any(stage == "publish" for stage, _ in stages)
    assert published == [(before["run_id"].iloc[0],)]  # still the first run's publish
