"""The whole nightly flow under Prefect's test harness, on small demo data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.nightly_segmentation import nightly_segmentation
from flows.params import NightlyParams
from segments.demo.generate import generate_demo

AS_OF = date(2026, 1, 1)


def _run(home: Path, **params) -> dict:
    return nightly_segmentation(NightlyParams(as_of=AS_OF, **params))


def _segments(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select customer_id, segment_id, segment_name from "
            "marts.customer_segments order by customer_id"
        ).fetchall()


@pytest.fixture
def demo_home(segments_home: Path) -> Path:
    generate_demo(segments_home / "landing", customers=400, seed=7)
    return segments_home


def test_nightly_flow_publishes_one_segment_per_customer(prefect_harness, demo_home):
    summary = _run(demo_home)
    with duckdb.connect(str(demo_home / "warehouse.duckdb"), read_only=True) as con:
        buyers = con.execute(
            "select count(distinct customer_id) from staging.stg_transactions "
            "where customer_id is not null and invoiced_at < $as_of",
            {"as_of": AS_OF},
        ).fetchone()[0]
        rows, distinct, segments, runs = con.execute(
            "select count(*), count(distinct customer_id), count(distinct segment_id), "
            "count(distinct run_id) from marts.customer_segments"
        ).fetchone()
        stages = dict(con.execute("select stage, status from ops.runs").fetchall())
        quarantined = con.execute("select count(*) from ops.quarantine").fetchone()[0]
        with_clv = con.execute("select count(clv) from marts.customer_segments").fetchone()[0]
        lake = list((demo_home / "lake" / "marts" / "customer_segments").glob("*.parquet"))
    assert rows == distinct == buyers > 300
    assert 3 <= segments <= 8 and runs == 1
    assert set(stages.values()) == {"completed"}, stages
    assert {"ingest", "features", "train", "score", "publish", "run"} <= stages.keys()
    assert quarantined > 0  # the demo's deliberately bad rows are kept, with reasons
    assert [p.name for p in lake] == ["as_of=2026-01-01.parquet"]
    assert summary["publish"]["rows"] == rows
    assert with_clv == rows  # probabilistic CLV, or the SQL estimate where it has no value
    assert (demo_home / "serving.duckdb").exists()
    assert (demo_home / "reports" / "latest" / "index.html").exists()


def _segment_profile(home: Path) -> list[tuple]:
    """What a segment is, without customer ids (pseudonyms change with the PII key)."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select segment_id, segment_name, count(*), sum(frequency), "
            "round(sum(monetary), 2) from marts.customer_segments group by all order by all"
        ).fetchall()


def test_same_seed_gives_the_same_segments(prefect_harness, tmp_path, monkeypatch):
    results, profiles = [], []
    for name, key in (("a", "same-key"), ("b", "same-key"), ("c", "another-key")):
        home = tmp_path / name
        monkeypatch.setenv("SEGMENTS_HOME", str(home))
        monkeypatch.setenv("SEGMENTS_PII_KEY", key)
        generate_demo(home / "landing", customers=300, seed=11)
        _run(home)
        results.append(_segments(home))
        profiles.append(_segment_profile(home))
    assert results[0] == results[1]
    assert len(results[0]) > 200
    # another key renames every customer, and still gives the same segments
    assert {row[0] for row in results[2]}.isdisjoint(row[0] for row in results[0])
    assert profiles[2] == profiles[0]


def test_critical_failure_keeps_the_last_good_segments(prefect_harness, demo_home):
    _run(demo_home)
    serving = demo_home / "serving.duckdb"
    before_bytes = serving.read_bytes()
    before = _segments(demo_home)
    with duckdb.connect(str(demo_home / "warehouse.duckdb"), read_only=True) as con:
        warnings = con.execute(
            "select count(*) from ops.dq_results where severity = 'warning' and not success"
        ).fetchone()[0]
    assert warnings >= 1  # the demo's orphan customer line: recorded, the run completed

    # Five months after the newest transaction: the freshness expectation is critical.
    late = date(2026, 6, 1)
    with pytest.raises(Exception, match="critical expectation"):
        nightly_segmentation(NightlyParams(as_of=late))
    assert _segments(demo_home) == before
    assert serving.read_bytes() == before_bytes
    with duckdb.connect(str(demo_home / "warehouse.duckdb"), read_only=True) as con:
        failed = con.execute(
            "select stage from ops.runs where status = 'failed' and as_of = $d order by stage",
            {"d": late},
        ).fetchall()
    assert [s for (s,) in failed] == ["run", "validate_staging"]
    # the failure artifact belongs to its flow run (hooks run outside the run's context)
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["nightly-failure"]))
        )
    assert artifacts and all(a.flow_run_id is not None for a in artifacts)


def test_refusals_come_before_any_work_and_are_never_retried(prefect_harness, demo_home):
    from prefect.exceptions import ParameterTypeError

    from segments.core.errors import RefusedError
    from tasks.publish import check_publishable_task, publish_segments_task
    from tasks.retry import transient_only

    _run(demo_home)
    with pytest.raises(RefusedError, match="before the latest publish"):
        nightly_segmentation(NightlyParams(as_of=date(2025, 12, 1)))
    with duckdb.connect(str(demo_home / "warehouse.duckdb"), read_only=True) as con:
        stages = con.execute(
            "select stage, status from ops.runs where as_of = $d", {"d": date(2025, 12, 1)}
        ).fetchall()
    assert stages == [("run", "failed")]  # refused before ingest, not after every stage
    assert check_publishable_task.retries == 0

    class Failed:
        data = RefusedError("as_of before the latest publish")

    assert publish_segments_task.retry_condition_fn(None, None, Failed()) is False
    assert transient_only is publish_segments_task.retry_condition_fn
    # what the Prefect UI sends for a deployment run: a dict, checked before the flow starts
    with pytest.raises(ParameterTypeError, match="plausible run date"):
        nightly_segmentation(params={"as_of": "3000-01-01"})
    with pytest.raises(ParameterTypeError, match="k_min"):
        nightly_segmentation(params={"k_min": 9, "k_max": 3})
