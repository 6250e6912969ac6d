"""The nightly flow with customer buckets on a real 2-worker Dask LocalCluster publishes
exactly what the one-process run publishes (same demo data, seed and PII key)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.nightly_segmentation import nightly_segmentation
from flows.params import NightlyParams
from segments.demo.generate import generate_demo

AS_OF = date(2026, 1, 1)


def _published(home: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return {
            table: con.execute(f"select * from {table} order by customer_id").df()
            for table in ("features.customer_features", "marts.customer_segments")
        }


def _trained(home: Path) -> tuple[str, int]:
    """The model the run trained and how many customers it learned from."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select model_version, training_rows from ops.model_registry"
        ).fetchone()


def _validated(home: Path) -> pd.DataFrame:
    """What the feature and segment gates recorded (validated_at, run_id and kwargs aside)."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select stage, suite, relation, expectation_type, column_name, severity, success, "
            "observed_value, unexpected_count, element_count from ops.dq_results "
            "where stage in ('validate_features', 'validate_segments') order by all"
        ).df()


def _run(home: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    monkeypatch.setenv("SEGMENTS_HOME", str(home))
    for name in ("SEGMENTS_PARTITIONS", "SEGMENTS_DASK_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    generate_demo(home / "landing", customers=300, seed=5)
    return nightly_segmentation(NightlyParams(as_of=AS_OF, retrain="always"))


def test_four_buckets_on_two_workers_publish_what_one_process_does(
    prefect_harness, segments_home, tmp_path, monkeypatch, dask_address
):
    # a training cap under the demo's customers: both train on a seeded sample, one from the
    # warehouse table, the other from the buckets' Parquet
    single = _run(tmp_path / "single", monkeypatch, SEGMENTS_TRAIN_ROWS="200")
    spread = _run(
        tmp_path / "buckets",
        monkeypatch,
        SEGMENTS_PARTITIONS="4",
        SEGMENTS_DASK_ADDRESS=dask_address,
        SEGMENTS_TRAIN_ROWS="200",
    )
    # the same sample, so the same model (its version names a checksum of the rows it read)
    trained = [_trained(tmp_path / home) for home in ("single", "buckets")]
    assert trained[0] == trained[1]
    assert 100 < trained[0][1] < 300  # a sample of the customers, not all of them
    one, four = _published(tmp_path / "single"), _published(tmp_path / "buckets")
    for table in one:
        expected = one[table].drop(columns=["run_id"], errors="ignore")
        got = four[table].drop(columns=["run_id"], errors="ignore")
        assert len(expected) > 200
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=table)
    # the gates checked each bucket and recorded what one process records
    pd.testing.assert_frame_equal(
        _validated(tmp_path / "buckets"), _validated(tmp_path / "single")
    )
    assert len(_validated(tmp_path / "single")) > 20
    with duckdb.connect(str(tmp_path / "buckets" / "warehouse.duckdb"), read_only=True) as con:
        gates = con.execute(
            "select stage, details from ops.runs where status = 'completed' "
            "and stage in ('validate_features', 'validate_segments') order by stage"
        ).fetchall()
    assert [stage for stage, _ in gates] == ["validate_features", "validate_segments"]
    for _, details in gates:  # each gate's per-customer checks ran on the four buckets
        assert sorted(b["bucket"] for b in json.loads(details)["buckets"]) == [0, 1, 2, 3]
    # the per-bucket work really ran as four buckets on the cluster
    buckets = spread["score"]["buckets"]
    assert sorted(b["bucket"] for b in buckets) == [0, 1, 2, 3]
    assert sum(b["customers"] for b in buckets) == single["score"]["customers"]
    lake = tmp_path / "buckets" / "lake" / "buckets" / "features" / "agg_customer_summary"
    assert sorted(p.name for p in lake.iterdir()) == [f"bucket={b}" for b in range(4)]
