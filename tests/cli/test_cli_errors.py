"""Known failures are one message and a documented exit code; writers wait for a running run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from processes import HOLDER
from processes import start as _start

from segments.cli.errors import run_cli
from segments.core.errors import EXIT_CODES, NothingToPublishError, RefusedError
from segments.demo import generate_demo

PROJECT = Path(__file__).resolve().parents[2]


def _cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "segments.cli", *args],
        env={**os.environ, "SEGMENTS_HOME": str(home), "SEGMENTS_PII_KEY": "k" * 32, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def landed(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    generate_demo(home / "landing", customers=150, seed=3)
    return home


def test_ingest_during_a_run_waits_saying_who_holds_the_warehouse(landed, tmp_path):
    release = tmp_path / "release"
    holder = _start(HOLDER, tmp_path, str(landed), str(release))
    ingest = subprocess.Popen(
        [sys.executable, "-m", "segments.cli", "ingest", "demo_customers"]
        + [str(landed / "landing" / "demo_customers")],
        env={**os.environ, "SEGMENTS_HOME": str(landed), "SEGMENTS_PII_KEY": "k" * 32},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    waiting = ingest.stderr.readline()  # blocks until the command says it waits
    assert "waiting for the warehouse: nightly_segmentation run holder-run" in waiting
    assert "stage features" in waiting
    assert ingest.poll() is None  # still waiting: it did not load during the run
    release.touch()
    out, err = ingest.communicate(timeout=300)
    holder.wait()
    assert ingest.returncode == 0, err
    assert out.startswith("loaded")


def test_a_writer_that_waited_too_long_fails_in_one_line_with_exit_75(landed, tmp_path):
    holder = _start(HOLDER, tmp_path, str(landed), "600")
    try:
        done = _cli(
            landed,
            "ingest",
            "demo_customers",
            str(landed / "landing" / "demo_customers"),
            SEGMENTS_LOCK_TIMEOUT_SECONDS="1",
        )
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 75
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "holder-run" in errors[0] and "is busy" in errors[0]


def test_refusals_and_bad_arguments_have_their_codes(landed):
    future = _cli(landed, "run", "--as-of", "2999-01-01")
    assert future.returncode == 2 and "not a plausible run date" in future.stderr
    assert not (landed / "warehouse.duckdb").exists()  # refused before any work
    bad_date = _cli(landed, "export", "--as-of", "2026-02-30")
    assert bad_date.returncode == 2 and "is not a date" in bad_date.stderr
    unpublished = _cli(landed, "export", "--as-of", "2026-01-01")
    assert unpublished.returncode == 6, unpublished.stderr
    assert unpublished.stderr.splitlines()[0].startswith("error: no published segments")
    assert "Traceback" not in unpublished.stderr
    backwards = _cli(landed, "backfill", "2026-02-01", "2026-01-01")
    assert backwards.returncode == 2 and "start (2026-02-01) is after end" in backwards.stderr


def _app_raising(error: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise error

    @app.command()
    def other() -> None:
        pass

    return app


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RefusedError("as_of 2026-01-01 is before the latest publish"), 6),
        (NothingToPublishError("Not enough data to segment"), 5),
        (RuntimeError("disk on fire\nsecond line"), 1),
    ],
)
def test_a_failure_is_one_message_and_its_code(segments_home, capsys, error, code):
    with pytest.raises(SystemExit) as raised:
        run_cli(_app_raising(error), ["boom"])
    assert raised.value.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    first = err.splitlines()[0]
    if code == 1:
        assert first.startswith("error: unexpected RuntimeError: disk on fire (rerun with --debug")
        assert (segments_home / "logs" / "last-error.log").read_text().startswith("Traceback")
    else:
        assert first == f"error: {error}" and f"exit {code}: {EXIT_CODES[code]}" in err


def test_debug_shows_the_traceback(segments_home, capsys):
    with pytest.raises(SystemExit) as raised:
        run_cli(_app_raising(RefusedError("no")), ["--debug", "boom"])
    assert raised.value.code == 6
    assert "Traceback" in capsys.readouterr().err


def test_every_exit_code_is_documented():
    readme = (PROJECT / "README.md").read_text()
    operations = (PROJECT / "docs" / "operations.md").read_text()
    for code in EXIT_CODES:
        assert f"| {code} |" in readme and f"| {code} |" in operations, code
