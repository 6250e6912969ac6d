"""Drift end to end under the nightly flow: a quiet day stays below the threshold and does
not retrain; shifted input crosses it, and the next auto run retrains with that reason."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from flows.nightly_segmentation import nightly_segmentation
from flows.params import NightlyParams
from segments.demo import generate_demo
from segments.monitor import DRIFT_DETECTED, load_reference

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def _shifted_orders(path: Path, customers: int) -> None:
    """Every customer places three big orders on 2026-01-02: far more frequency and money."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [HEADER]
    for c in range(1, customers + 1):
        for k in range(3):
            rows.append(
                f"{900000 + 3 * c + k},20725,BIG ORDER,50,2026-01-02 1{k}:00:00,40.00,"
                f"C{c:07d},United Kingdom"
            )
    path.write_text("\n".join(rows) + "\n")


def _train(home: Path, run_id: str) -> dict:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (details,) = con.execute(
            "select details from ops.runs where run_id = $r and stage = 'train'", {"r": run_id}
        ).fetchone()
    return json.loads(details)


def test_shifted_input_crosses_the_threshold_and_auto_retrains(prefect_harness, segments_home):
    generate_demo(segments_home / "landing", customers=400, seed=7)
    first = nightly_segmentation(NightlyParams(as_of=date(2026, 1, 1)))
    assert first["monitor"]["drift"]["verdict"] == "skipped"  # no champion before this run
    champion = first["train"]["model_version"]
    reference = load_reference(segments_home / "models" / f"{champion}.joblib")
    assert reference["rows"] > 300 and "monetary" in reference["features"]

    quiet = nightly_segmentation(NightlyParams(as_of=date(2026, 1, 2)))
    assert quiet["monitor"]["drift"]["verdict"] in ("stable", "watch")
    assert quiet["monitor"]["events"] == []
    assert _train(segments_home, quiet["run_id"])["trained"] is False

    _shifted_orders(segments_home / "landing" / "demo_transactions" / "shifted.csv", 400)
    shifted = nightly_segmentation(NightlyParams(as_of=date(2026, 1, 3)))
    drift = shifted["monitor"]["drift"]
    assert drift["verdict"] == "act" and "monetary" in drift["acting"]
    train = _train(segments_home, shifted["run_id"])
    assert train["trained"] is True
    assert train["retrain_reason"].startswith("drift: PSI ")
    assert "monetary" in train["retrain_reason"] and champion in train["retrain_reason"]
    assert Path(train["reference"]).exists()
    (event,) = shifted["monitor"]["events"]
    assert event["event"] == DRIFT_DETECTED
    assert event["payload"]["as_of"] == "2026-01-03" and "monetary" in event["payload"]["features"]
    with duckdb.connect(str(segments_home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select run_id, count(*), count(*) filter (where verdict = 'act'), "
            "max(threshold) from ops.drift group by 1 order by min(as_of)"
        ).fetchall()
    assert [r[0] for r in rows] == [quiet["run_id"], shifted["run_id"]]
    assert rows[0][2] == 0 and rows[1][2] >= 2 and rows[1][3] == 0.25
    assert rows[1][1] == len(reference["features"]) + 1  # every feature and the shares
    page = segments_home / "reports" / "monitor.html"
    assert page.exists() and "Drift per feature" in page.read_text()
