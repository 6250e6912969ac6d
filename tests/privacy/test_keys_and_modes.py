"""A weak production key is refused by every command before any work; files are 600/700."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segments.cli import app, main
from segments.core.pii import MIN_PRODUCTION_KEY_BYTES, MissingPiiKeyError, check_key
from segments.settings import Settings

GOOD_KEY = "x" * MIN_PRODUCTION_KEY_BYTES
# every command with arguments it would accept; a new command must be added here
ARGS = {
    "demo": ["--customers", "20"],
    "ingest": ["demo_customers", "."],
    "run": ["--as-of", "2026-01-01"],
    "status": [],
    "export": [],
    "serve": [],
    "rollback": ["m1"],
    "backfill": ["2026-01-01", "2026-01-08"],
    "forget": ["C0000001"],
    "rebuild": ["--as-of", "2026-01-01"],
    "api": [],
    "watch": ["--interval", "1"],
    "score-recent": [],
    "sources": ["check", "online_retail", "x.csv"],
}


@pytest.fixture
def restore_umask():
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


@pytest.mark.parametrize(
    ("environment", "key", "refused"),
    [
        ("production", None, "is not set"),
        ("production", "", "empty"),
        ("production", "Q", "1 bytes"),
        ("production", "é" * 15, "30 bytes"),  # bytes, not characters
        ("production", GOOD_KEY, None),
        ("demo", "short", None),
        ("demo", "   ", "empty"),
        ("demo", None, None),
    ],
)
def test_key_rule(tmp_path, environment, key, refused):
    settings = Settings(home=tmp_path, environment=environment, pii_key=key)
    if refused is None:
        check_key(settings)
        return
    with pytest.raises(MissingPiiKeyError, match=refused) as error:
        check_key(settings)
    if key:
        assert key not in str(error.value)  # the message never shows the key


def test_every_command_refuses_a_short_production_key_first(
    segments_home, monkeypatch, capsys, restore_umask
):
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    commands = {"serve" if c == "serve_cmd" else c for c in commands}
    commands |= {group.name for group in app.registered_groups}
    assert commands == ARGS.keys()
    monkeypatch.setenv("SEGMENTS_ENVIRONMENT", "production")
    monkeypatch.setenv("SEGMENTS_PII_KEY", "short-key")
    monkeypatch.chdir(segments_home.parent)
    for command, args in ARGS.items():
        monkeypatch.setattr(sys, "argv", ["segments", command, *args])
        with pytest.raises(SystemExit) as stopped:
            main()
        err = capsys.readouterr().err.strip()
        assert stopped.value.code == 2, command
        assert err.splitlines() == [err] and "SEGMENTS_PII_KEY is 9 bytes" in err, command
        assert not segments_home.exists(), command  # nothing written, nothing started


def test_the_run_command_refuses_at_once_without_a_traceback(tmp_path):
    env = {
        **os.environ,
        "SEGMENTS_HOME": str(tmp_path / "home"),
        "SEGMENTS_ENVIRONMENT": "production",
    }
    env.pop("SEGMENTS_PII_KEY", None)
    for command in (["run", "--as-of", "2026-01-01"], ["ingest", "demo_customers", "."]):
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "segments.cli", *command],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "SEGMENTS_PII_KEY is not set" in result.stderr
        assert time.monotonic() - started < 30  # before any server or file (was ~50 s)
    assert not (tmp_path / "home").exists()


def test_a_long_enough_production_key_is_accepted(segments_home, monkeypatch, restore_umask):
    monkeypatch.setenv("SEGMENTS_ENVIRONMENT", "production")
    monkeypatch.setenv("SEGMENTS_PII_KEY", GOOD_KEY)
    result = CliRunner().invoke(app, ["demo", "--customers", "20"])
    assert result.exit_code == 0, result.output


def _modes(home: Path) -> tuple[set[int], set[int]]:
    files, folders = set(), set()
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        (folders if path.is_dir() else files).add(mode)
    return files, folders


@pytest.mark.parametrize(
    ("access", "file_mode", "folder_mode"), [("owner", 0o600, 0o700), ("group", 0o640, 0o750)]
)
def test_everything_written_under_home_is_private(
    segments_home, monkeypatch, restore_umask, access, file_mode, folder_mode
):
    os.umask(0o022)  # what a shell usually has: 644 files in 755 folders
    monkeypatch.setenv("SEGMENTS_FILE_ACCESS", access)
    monkeypatch.setenv("SEGMENTS_MAX_QUARANTINE_SHARE", "1")  # 30 demo customers: a few bad lines
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "--customers", "30"]).exit_code == 0
    landing = segments_home / "landing" / "demo_customers"
    result = runner.invoke(app, ["ingest", "demo_customers", str(landing)])
    assert result.exit_code == 0, result.output
    files, folders = _modes(segments_home)
    assert (segments_home / "warehouse.duckdb").exists() and any(
        (segments_home / "lake").rglob("*.parquet")
    )
    assert files <= {file_mode, 0o600} and file_mode in files  # pii.key stays 600
    assert folders == {folder_mode}


def test_an_old_world_readable_home_is_closed(segments_home, restore_umask):
    segments_home.mkdir(mode=0o755)
    os.chmod(segments_home, 0o755)
    CliRunner().invoke(app, ["status"])
    assert stat.S_IMODE(segments_home.stat().st_mode) == 0o700


def test_a_flow_refuses_a_short_production_key_before_any_stage(
    prefect_harness, segments_home, monkeypatch, restore_umask
):
    from flows.ingest_source import ingest_source
    from flows.params import IngestParams

    monkeypatch.setenv("SEGMENTS_ENVIRONMENT", "production")
    monkeypatch.setenv("SEGMENTS_PII_KEY", "short-key")
    with pytest.raises(MissingPiiKeyError, match="9 bytes"):
        ingest_source(IngestParams(source="demo_customers", path=str(segments_home)))
    # no stage ran (the failure hook may open an empty warehouse to record the failure)
    assert not any((segments_home / d).exists() for d in ("landing", "lake", "reports"))
