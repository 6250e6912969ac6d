"""`segments forget` and `segments ingest` without a nightly run: exit codes, the ingest hook."""

from __future__ import annotations

import shutil

import duckdb
from typer.testing import CliRunner

from segments.cli import app
from segments.core.pii import customer_pseudonym
from segments.privacy import scan_home

KEY = b"test-key-not-secret"
runner = CliRunner()


def _staged(home, pseudonym: str) -> int:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select count(*) from staging.customer_versions where customer_id = $p",
            {"p": pseudonym},
        ).fetchone()[0]


def test_forget_needs_ids(segments_home):
    result = runner.invoke(app, ["forget"])
    assert result.exit_code == 2
    assert "no customer ids given" in result.output
    blank = segments_home.parent / "ids.txt"
    blank.write_text("\n  \n")
    assert runner.invoke(app, ["forget", "--ids-file", str(blank)]).exit_code == 2
    assert not (segments_home / "warehouse.duckdb").exists()


def test_an_ad_hoc_ingest_does_not_bring_an_erased_customer_back(segments_home, monkeypatch):
    # 40 demo customers carry the demo's few bad lines: more than the 5% quarantine limit
    monkeypatch.setenv("SEGMENTS_MAX_QUARANTINE_SHARE", "1")
    home = segments_home
    assert runner.invoke(app, ["demo", "--customers", "40", "--seed", "2"]).exit_code == 0
    landing = home / "landing" / "demo_customers"
    original = home.parent / "customers.csv"
    shutil.copy(landing / "customers.csv", original)
    assert runner.invoke(app, ["ingest", "demo_customers", str(landing)]).exit_code == 0
    gone = customer_pseudonym("C0000003", KEY)
    assert _staged(home, gone) == 1

    result = runner.invoke(app, ["forget", "C0000003", "C9999999"])  # one never seen
    assert result.exit_code == 0, result.output
    assert "erased 2 customer(s)" in result.output
    assert _staged(home, gone) == 0 and scan_home(home, [gone, "C0000003"]) == []

    # a new export with the customer: loaded, then the customer dropped again, file included
    lines = original.read_text().splitlines(keepends=True)
    (landing / "again.csv").write_text(lines[0] + lines[3] + lines[4].replace(",", ",x", 1))
    result = runner.invoke(app, ["ingest", "demo_customers", str(landing)])
    assert result.exit_code == 0, result.output
    assert _staged(home, gone) == 0 and scan_home(home, [gone, "C0000003"]) == []
    assert (landing / "again.csv").read_text().count("\n") == 2  # header + the other line
    again = runner.invoke(app, ["ingest", "demo_customers", str(landing)])
    assert again.output.count("skipped") == 2  # the rewritten files are known by content


def test_a_file_that_cannot_be_fixed_fails_the_erasure_by_name(segments_home, monkeypatch):
    # 40 demo customers carry the demo's few bad lines: more than the 5% quarantine limit
    monkeypatch.setenv("SEGMENTS_MAX_QUARANTINE_SHARE", "1")
    assert runner.invoke(app, ["demo", "--customers", "20"]).exit_code == 0
    landing = segments_home / "landing" / "demo_customers"
    assert runner.invoke(app, ["ingest", "demo_customers", str(landing)]).exit_code == 0
    model = segments_home / "models" / "m.joblib"
    model.parent.mkdir(exist_ok=True)
    model.write_bytes(b"\x80\x04" + customer_pseudonym("C0000002", KEY).encode() + b"\x00")
    result = runner.invoke(app, ["forget", "C0000002"])
    assert result.exit_code == 1
    assert "models/m.joblib" in result.output and "C0000002" not in result.output
    with duckdb.connect(str(segments_home / "warehouse.duckdb"), read_only=True) as con:
        status = con.execute(
            "select status, message from ops.runs where flow_name = 'forget_customers' "
            "and stage = 'run'"
        ).fetchone()
    assert status[0] == "failed" and "models/m.joblib" in status[1]
