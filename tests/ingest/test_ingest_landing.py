"""The nightly run survives bad files: each failure is an ops.loads row, the file is set
aside, and the rest of the run goes on."""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import pytest

from segments.core.db import connect
from segments.core.warehouse import prepare_warehouse
from segments.ingest import ingest_landing
from segments.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]
H = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
G = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"


def _landing(settings: Settings, source: str) -> Path:
    folder = settings.landing_dir / source
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _loads(settings: Settings) -> dict[str, tuple[str, str]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute("select path, status, message from ops.loads").fetchall()
    return {path: (status, message) for path, status, message in rows}


def _run(settings: Settings):
    prepare_warehouse(settings)
    with connect(settings) as con:
        return ingest_landing(con, settings, "test-run")


def _bad_files(folder: Path) -> dict[str, str]:
    """One of each kind of file that cannot be loaded, and what its failure must say."""
    (folder / "not_a_zip.xlsx").write_bytes(b"this is a csv pretending to be excel\n")
    good = folder / "real.xlsx"
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(H.strip().split(","))
    book.save(good)
    whole = good.read_bytes()
    (folder / "truncated.xlsx").write_bytes(whole[: len(whole) // 2])
    good.unlink()
    with zipfile.ZipFile(folder / "zip_without_sheets.xlsx", "w") as z:
        z.writestr("hello.txt", "no workbook here")
    (folder / "corrupt.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 50)
    (folder / "empty.csv").write_bytes(b"")
    (folder / "wrong_columns.csv").write_text("a,b\n1,2\n")
    os.symlink(folder / "gone.csv", folder / "broken_link.csv")
    os.symlink(folder / "loop.csv", folder / "loop.csv")  # a link to itself
    return {
        "not_a_zip.xlsx": "BadZipFile",
        "truncated.xlsx": "cannot be read as xlsx",
        "zip_without_sheets.xlsx": "cannot be read as xlsx",
        "corrupt.parquet": "cannot be read as parquet",
        "empty.csv": "the file is empty",
        "wrong_columns.csv": "missing required column(s)",
        "broken_link.csv": "broken symbolic link",
        "loop.csv": "broken symbolic link",
    }


def test_bad_files_fail_alone_and_are_set_aside(segments_home):
    settings = Settings()
    folder = _landing(settings, "online_retail")
    expected = _bad_files(folder)
    (folder / "good.csv").write_text(H + G)
    (folder / "good2.csv").write_text(H + G.replace("536365", "536366"))
    results = _run(settings)
    by_path = {r.path: r for r in results}
    assert by_path["good.csv"].status == by_path["good2.csv"].status == "loaded"
    loads = _loads(settings)
    for name, text in expected.items():
        status, message = loads[name]
        assert status == "failed" and text in message, (name, message)
        assert os.path.lexists(folder / "_rejected" / name) and not os.path.lexists(folder / name)
    assert sorted(p.name for p in (folder / "_processed").iterdir()) == ["good.csv", "good2.csv"]
    assert [p.name for p in folder.iterdir() if not p.name.startswith("_")] == []
    # the next run finds nothing new and fails nothing
    assert _run(settings) == []


def test_a_broken_mapping_fails_its_files_and_not_the_others(segments_home, tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "warehouse", project / "warehouse")
    bad = project / "warehouse" / "sources" / "online_retail.yaml"
    bad.write_text(
        bad.read_text()
        .replace("delimiter", "x")
        .replace("format: csv", "format: csv\ncsv: {delimiter: ';;;;;'}")
    )
    monkeypatch.setenv("SEGMENTS_PROJECT_DIR", str(project))
    settings = Settings()
    _landing(settings, "online_retail").joinpath("t.csv").write_text(H + G)
    _landing(settings, "demo_transactions").joinpath("t.csv").write_text(H + G)
    results = {(r.source, r.status) for r in _run(settings)}
    assert results == {("online_retail", "failed"), ("demo_transactions", "loaded")}
    (again,) = _run(settings)  # the next run fails it again, once
    message = again.message
    assert "csv.delimiter" in message and "until the mapping is fixed" in message
    assert (settings.landing_dir / "online_retail" / "t.csv").exists()  # waits for the fix


def test_processed_files_are_deleted_after_the_retention(segments_home, monkeypatch):
    monkeypatch.setenv("SEGMENTS_PROCESSED_RETENTION_DAYS", "3")
    settings = Settings()
    folder = _landing(settings, "demo_transactions")
    (folder / "old.csv").write_text(H + G)
    _run(settings)
    kept = folder / "_processed" / "old.csv"
    assert kept.exists()
    four_days_ago = time.time() - 4 * 86_400
    os.utime(kept, (four_days_ago, four_days_ago))
    (folder / "new.csv").write_text(H + G.replace("536365", "536367"))
    _run(settings)
    assert sorted(p.name for p in (folder / "_processed").iterdir()) == ["new.csv"]


def test_retention_zero_keeps_no_landing_file(segments_home, monkeypatch):
    monkeypatch.setenv("SEGMENTS_PROCESSED_RETENTION_DAYS", "0")
    settings = Settings()
    folder = _landing(settings, "demo_transactions")
    (folder / "t.csv").write_text(H + G)
    assert [r.status for r in _run(settings)] == ["loaded"]
    assert list((folder / "_processed").iterdir()) == []


def test_undeclared_columns_never_reach_raw_or_the_lake(segments_home):
    settings = Settings()
    folder = _landing(settings, "demo_transactions")
    header = H.strip() + ",Email,Phone\n"
    (folder / "t.csv").write_text(header + G.strip() + ",jane@example.com,+44 7700 900123\n")
    assert [r.status for r in _run(settings)] == ["loaded"]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        columns = [r[0] for r in con.execute("describe raw.demo_transactions").fetchall()]
        dump = str(con.execute("select * from raw.demo_transactions").fetchall())
    assert "Email" not in columns and "Phone" not in columns
    assert "jane@example.com" not in dump
    lake = list((settings.lake_dir / "raw" / "demo_transactions").rglob("*.parquet"))
    assert lake and all(b"jane@example.com" not in p.read_bytes() for p in lake)
    names = duckdb.sql(f"describe select * from read_parquet('{lake[0]}')").fetchall()
    assert "Email" not in [n[0] for n in names]


@pytest.mark.slow
def test_a_corrupt_xlsx_among_good_files_and_the_nightly_still_publishes(
    prefect_harness, segments_home
):
    from flows.nightly_segmentation import nightly_segmentation
    from flows.params import NightlyParams
    from segments.demo.generate import generate_demo

    generate_demo(segments_home / "landing", customers=300, seed=5)
    folder = segments_home / "landing" / "online_retail"  # beside the three demo files
    folder.mkdir()
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip archive")
    summary = nightly_segmentation(NightlyParams(as_of=date(2026, 1, 1)))
    assert summary["publish"]["rows"] > 200
    assert summary["ingest"]["files_failed"] == 1
    demo_files = [p for p in (segments_home / "landing").glob("demo_*/_processed/*")]
    assert summary["ingest"]["files_loaded"] == len(demo_files) >= 3
    with duckdb.connect(str(segments_home / "warehouse.duckdb"), read_only=True) as con:
        status, message = con.execute(
            "select status, message from ops.loads where path = 'broken.xlsx'"
        ).fetchone()
        published = con.execute("select count(*) from marts.customer_segments").fetchone()[0]
    assert status == "failed" and "cannot be read as xlsx" in message
    assert published == summary["publish"]["rows"]
    assert (folder / "_rejected" / "broken.xlsx").exists()
