"""The `segments` command line: demo, ingest, status, as a user types them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from segments.cli import app

runner = CliRunner()


def _segments(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: a fresh process, its own exit code and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "segments.cli", *args],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_ingest_status(segments_home):
    result = runner.invoke(app, ["demo", "--customers", "50", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "transaction_lines" in result.output
    landing = segments_home / "landing" / "demo_transactions"
    result = runner.invoke(app, ["ingest", "demo_transactions", str(landing)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("loaded")
    again = runner.invoke(app, ["ingest", "demo_transactions", str(landing)])
    assert again.output.startswith("skipped")
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0
    assert "staging.stg_transactions" in status.output


def test_unknown_source_is_a_clear_error(segments_home, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    result = runner.invoke(app, ["ingest", "no_such_source", str(path)])
    assert result.exit_code == 2
    assert "unknown source 'no_such_source'" in result.output


def test_run_refuses_bad_parameters_before_any_work(segments_home):
    result = runner.invoke(app, ["run", "--retrain", "sometimes"])
    assert result.exit_code == 2
    assert "invalid parameters" in result.output
    assert not (segments_home / "warehouse.duckdb").exists()


def test_bad_settings_are_named_before_any_work(segments_home):
    """main() turns a pydantic traceback into one line per bad SEGMENTS_* variable."""
    env = {**os.environ, "SEGMENTS_CLV_MARGIN": "2", "SEGMENTS_SEED": "abc"}
    for command in (["status"], ["run", "--as-of", "2026-01-01"]):
        result = _segments(*command, env=env)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "SEGMENTS_CLV_MARGIN='2': Input should be less than or equal to 1" in result.stderr
        assert "SEGMENTS_SEED='abc'" in result.stderr
    assert not (segments_home / "warehouse.duckdb").exists()


def test_writing_commands_wait_for_the_warehouse_lock_and_name_the_holder(segments_home, tmp_path):
    """`segments ingest` and `segments rollback` write: they take the lock every flow takes."""
    from segments.core.locks import warehouse_lock

    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    env = {**os.environ, "SEGMENTS_LOCK_TIMEOUT_SECONDS": "1"}
    with warehouse_lock(segments_home, "nightly_segmentation run holder-1"):
        for command in (["ingest", "demo_transactions", str(path)], ["rollback", "m-any"]):
            result = _segments(*command, env=env)
            assert result.returncode != 0, command
            assert "holder-1" in result.stderr + result.stdout, command
    assert not (segments_home / "warehouse.duckdb").exists()  # nothing ran before the lock


def test_watch_refuses_a_bad_interval_before_any_work(segments_home):
    result = runner.invoke(app, ["watch", "--interval", "0"])
    assert result.exit_code == 2
    assert "invalid parameters" in result.output and "interval_seconds" in result.output
    assert not (segments_home / "warehouse.duckdb").exists()


def test_score_recent_before_the_first_run_says_to_run_it_first(segments_home):
    """No publish, no champion: one line saying what to do, exit 5, no traceback; and it
    waits for the warehouse lock like every writer."""
    from segments.core.locks import warehouse_lock

    result = _segments("score-recent", env=dict(os.environ))
    assert result.returncode == 5, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: no champion model: score-recent never trains; run `segments run` first"
    ]
    assert "Traceback" not in result.stderr
    env = {**os.environ, "SEGMENTS_LOCK_TIMEOUT_SECONDS": "1"}
    with warehouse_lock(segments_home, "nightly_segmentation run holder-2"):
        busy = _segments("score-recent", env=env)
    assert busy.returncode == 75 and "holder-2" in busy.stderr + busy.stdout


def test_ingest_does_not_import_prefect(tmp_path: Path) -> None:
    """`segments ingest` runs no flow: importing Prefect (seconds) would only slow every
    load's start-up. In a fresh interpreter, as the command runs."""
    landing = tmp_path / "tx.csv"
    landing.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,MUG,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    )
    probe = (
        "import sys\n"
        "from segments.cli.app import main\n"
        "sys.argv = ['segments', 'ingest', 'online_retail', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\n"
        "print('exit', code, 'prefect' in sys.modules)\n"
    )
    env = {**os.environ, "SEGMENTS_HOME": str(tmp_path / "home")}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", probe, str(landing)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip().splitlines()[-1] == "exit 0 False", done.stderr[-2000:]
