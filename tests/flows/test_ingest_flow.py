"""The ingest_source flow under the Prefect harness: a load, its ops rows and its progress."""

from __future__ import annotations

import duckdb
from prefect.artifacts import Artifact

from flows.ingest_source import ingest_source
from flows.params import IngestParams

H = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
G = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"


def test_ingest_source_flow_loads_and_reports_progress(prefect_harness, segments_home, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(H + G + G.replace("536365", "536366") + G.replace(",6,", ",x,"))
    summary = ingest_source(IngestParams(source="demo_transactions", path=str(path)))
    loads = summary["loads"]
    assert [(r["status"], r["rows_staged"], r["rows_quarantined"]) for r in loads] == [
        ("failed", 0, 1)  # 1 of 3 quarantined: over the 5% limit, nothing staged
    ]
    assert "SEGMENTS_MAX_QUARANTINE_SHARE" in loads[0]["message"]
    progress = Artifact.get("ingest-source")
    assert progress is not None and progress.type == "progress"
    assert float(progress.data) == 100.0
    with duckdb.connect(str(segments_home / "warehouse.duckdb"), read_only=True) as con:
        flows = {f for (f,) in con.execute("select distinct flow_name from ops.runs").fetchall()}
        status = con.execute("select status from ops.loads").fetchall()
    assert flows == {"ingest_source"} and status == [("failed",)]
