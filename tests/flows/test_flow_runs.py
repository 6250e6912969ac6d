"""Every flow run once under the Prefect harness, each ops.runs row under its own flow name."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.backfill_segments import backfill_segments
from flows.ingest_source import ingest_source
from flows.nightly_segmentation import nightly_segmentation
from flows.params import (
    BackfillParams,
    IngestParams,
    NightlyParams,
    RetrainParams,
    RollbackParams,
)
from flows.retrain_segments import retrain_segments
from flows.rollback_model import rollback_model
from flows.score_recent import score_recent
from segments.demo import generate_demo

AS_OF = date(2026, 1, 1)
FAST = {"algorithms": ["kmeans"], "k_min": 3, "k_max": 4}


def _runs(home: Path) -> dict[str, tuple[str, set[str], set[str]]]:
    """run_id -> (flow name of its run row, every flow name of its rows, its stages)."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select run_id, flow_name, stage, status from ops.runs").fetchall()
    runs: dict[str, tuple[str, set[str], set[str]]] = {}
    for run_id, flow, stage, status in rows:
        assert status == "completed", (run_id, flow, stage, status)
        own, names, stages = runs.get(run_id, ("", set(), set()))
        runs[run_id] = (flow if stage == "run" else own, names | {flow}, stages | {stage})
    return runs


def loaded_customers(home: Path) -> int:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute("select count(*) from marts.customer_segments").fetchone()[0]


@pytest.fixture
def landed(segments_home: Path, tmp_path: Path) -> Path:
    """Demo files: customers and events in landing, transactions aside for ingest_source."""
    generate_demo(segments_home / "landing", customers=300, seed=5)
    aside = tmp_path / "incoming"
    (segments_home / "landing" / "demo_transactions").rename(aside)
    return aside


def test_every_flow_records_its_stages_under_its_own_name(prefect_harness, landed, segments_home):
    loaded = ingest_source(IngestParams(source="demo_transactions", path=str(landed)))
    assert loaded["files_loaded"] >= 1 and loaded["rows_staged"] > 0
    backfill_segments(  # trains at its first date; the demo data ends 2025-12-31
        BackfillParams(start=date(2025, 12, 18), end=date(2025, 12, 25), step_days=7)
    )
    nightly_segmentation(NightlyParams(as_of=AS_OF, **FAST))
    late = landed.parent / "late.csv"  # two late lines of one customer, loaded after the publish
    late.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "990001,20725,LATE ORDER,3,2025-12-30 10:00:00,4.50,C0000003,United Kingdom\n"
        "990002,20725,LATE ORDER,1,2026-01-03 10:00:00,4.50,C0000003,United Kingdom\n"
    )
    ingest_source(IngestParams(source="demo_transactions", path=str(late)))
    recent = score_recent()
    assert recent["plan"]["touched"] == 1 and recent["score"]["customers"] == 1
    assert recent["publish"]["rows"] == loaded_customers(segments_home)
    assert score_recent()["plan"]["touched"] == 0  # nothing new: a no-op
    retrain_segments(RetrainParams(as_of=AS_OF, **{**FAST, "k_max": 5}))
    with duckdb.connect(str(segments_home / "warehouse.duckdb"), read_only=True) as con:
        (other,) = con.execute(  # a registered version that is not the champion now
            "select model_version from ops.model_registry where status <> 'champion' "
            "order by trained_at desc limit 1"
        ).fetchone()
    rolled = rollback_model(RollbackParams(model_version=other))

    runs = _runs(segments_home)
    by_flow: dict[str, list[set[str]]] = {}
    for run_id, (own, names, stages) in runs.items():
        assert names == {own}, f"run {run_id} of {own} has rows under {names}"
        by_flow.setdefault(own, []).append(stages)
    assert by_flow["ingest_source"] == [{"run", "ingest"}] * 2
    assert sorted(by_flow["score-recent"], key=len) == [
        {"run", "plan"},
        {"run", "plan", "validate_staging", "features", "validate_features", "score"}
        | {"candidate", "validate_segments", "publish"},
    ]
    assert by_flow["retrain_segments"] == [{"run", "features", "validate_features", "train"}]
    assert by_flow["backfill_segments"] == [{"run"}]
    nightly_stages = {
        "run", "ingest", "validate_staging", "features", "validate_features", "monitor",
        "train", "score", "candidate", "validate_segments", "publish", "monitor_page", "report",
    }  # fmt: skip
    assert by_flow["nightly_segmentation"] == [nightly_stages] * 3  # one + two backfill dates
    assert by_flow["rollback_model"] == [{"run", "rollback"}]
    assert rolled["champion"] == other
