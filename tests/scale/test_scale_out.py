"""The nightly flow with customer buckets on a real 2-worker Dask LocalCluster publishes
exactly what the one-process run publishes (same demo data, seed and PII key)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.nightly_segmentation import nightly_segmentation
from flows.params import NightlyParams
from segments.demo.generate import generate_demo

AS_OF = date(2026, 1, 1)


@pytest.fixture
def dask_address() -> Iterator[str]:
    """A real LocalCluster with two single-threaded worker processes, closed after the test."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def _published(home: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return {
            table: con.execute(f"select * from {table} order by customer_id").df()
            for table in ("features.customer_features", "marts.customer_segments")
        }


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
    single = _run(tmp_path / "single", monkeypatch)
    spread = _run(
        tmp_path / "buckets",
        monkeypatch,
        SEGMENTS_PARTITIONS="4",
        SEGMENTS_DASK_ADDRESS=dask_address,
    )
    one, four = _published(tmp_path / "single"), _published(tmp_path / "buckets")
    for table in one:
        expected = one[table].drop(columns=["run_id"], errors="ignore")
        got = four[table].drop(columns=["run_id"], errors="ignore")
        assert len(expected) > 200
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=table)
    # the per-bucket work really ran as four buckets on the cluster
    buckets = spread["score"]["buckets"]
    assert sorted(b["bucket"] for b in buckets) == [0, 1, 2, 3]
    assert sum(b["customers"] for b in buckets) == single["score"]["customers"]
    lake = tmp_path / "buckets" / "lake" / "buckets" / "features" / "agg_customer_summary"
    assert sorted(p.name for p in lake.iterdir()) == [f"bucket={b}" for b in range(4)]
