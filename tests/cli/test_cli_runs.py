"""The real command line, as a user types it, in child processes with their own Prefect home:

- `segments demo && segments run` (no dates given) passes, in a few dozen lines of output;
- a run killed with SIGKILL leaves the served files intact, its temporary Prefect server dies
  with it, and the next run marks it `crashed` (in ops.runs and in Prefect);
- a quality-gate stop and a failed backfill print a few lines, no traceback, exit 3.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow


def _env(home: Path, prefect_home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "SEGMENTS_HOME": str(home),
        "SEGMENTS_PII_KEY": "cli-test-key-" + "k" * 24,
        "PREFECT_HOME": str(prefect_home),
    }
    env.pop("PREFECT_API_URL", None)
    return env


def _cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "segments.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path, str]:
    """`segments demo && segments run`, defaults only: the demo ends yesterday, the run is today."""
    root = tmp_path_factory.mktemp("cli-runs")
    home = root / "home"
    env = _env(home, root / "prefect")
    demo = _cli(env, "demo", "--customers", "250", "--seed", "5")
    assert demo.returncode == 0, demo.stderr
    run = _cli(env, "run")
    assert run.returncode == 0, run.stderr
    return env, home, run.stdout + run.stderr


def test_demo_then_run_passes_and_speaks_plainly(first_run):
    _env, home, output = first_run
    assert "published" in output and "Traceback" not in output
    lines = output.splitlines()
    assert len(lines) < 60, output  # was ~560 (318 of them Great Expectations INFO)
    assert not any("great_expectations" in line for line in lines)
    facts = [line for line in lines if "Flow run 'nightly-" in line]
    assert any(" - ingest: " in f for f in facts) and any(" - publish: " in f for f in facts)
    assert any(" - model: " in f for f in facts) and any(" - report: " in f for f in facts)
    assert (home / "reports" / "latest" / "index.html").exists()


def _served(home: Path) -> dict[str, bytes]:
    files = [home / "serving.duckdb", *(home / "lake" / "marts").rglob("*")]
    return {str(p): p.read_bytes() for p in files if p.is_file() and not p.name.startswith(".")}


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _kill_run_at(env: dict[str, str], home: Path, stage: str, *args: str) -> dict:
    """Start `segments run`, SIGKILL it once the lock file says it is in `stage`."""
    child = subprocess.Popen(
        [sys.executable, "-m", "segments.cli", "run", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    lock = home / ".warehouse.lock"
    deadline = time.monotonic() + 600
    holder: dict = {}
    while holder.get("stage") != stage:
        assert child.poll() is None, child.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, f"never reached {stage}"
        try:
            holder = json.loads(lock.read_text() or "{}")
        except (OSError, ValueError):
            holder = {}
        time.sleep(0.02)
    kids = _children(child.pid)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    gone_by = time.monotonic() + 30
    while any(_alive(k) for k in kids) and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert kids and not any(_alive(k) for k in kids), "the temporary Prefect server outlived us"
    return holder


@pytest.mark.parametrize("stage", ["train", "publish"])
def test_a_killed_run_is_marked_crashed_by_the_next_and_serving_is_intact(first_run, stage):
    env, home, _ = first_run
    served = _served(home)
    holder = _kill_run_at(env, home, stage, "--retrain", "always")
    killed = holder["run_id"]
    if stage == "train":  # killed before publishing: readers see exactly what they saw
        assert _served(home) == served
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        served_runs = con.execute("select distinct run_id from customer_segments").fetchall()
    assert len(served_runs) == 1  # one publish, never a mix

    status = _cli(env, "status")  # the lock is free: status says the run's process is gone
    assert status.returncode == 0 and "its process is gone" in status.stdout

    rerun = _cli(env, "run")
    assert rerun.returncode == 0, rerun.stderr
    assert f"run {killed} (nightly_segmentation) crashed" in rerun.stderr
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select stage, status, message, pid, flow_run_id from ops.runs where run_id = $r",
            {"r": killed},
        ).fetchall()
        publishes = con.execute("select run_id from marts.publishes order by as_of").fetchall()
    assert {status for _, status, *_ in rows} <= {"completed", "crashed"}
    crashed = [r for r in rows if r[1] == "crashed"]
    assert {r[0] for r in crashed} >= {"run", stage}
    assert all("ended without finishing" in r[2] and r[3] == holder["pid"] for r in crashed)
    flow_run_id = crashed[0][4]
    with sqlite3.connect(Path(env["PREFECT_HOME"]) / "prefect.db") as prefect_db:
        (state,) = prefect_db.execute(
            "select state_type from flow_run where id = ?", (flow_run_id,)
        ).fetchone()
    assert state == "CRASHED"
    assert not list(home.rglob(".*.tmp-*")) and not (home / ".publish-manifest.json").exists()
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        (latest,) = con.execute(
            "select run_id from publishes order by as_of desc limit 1"
        ).fetchone()
    assert latest == publishes[-1][0]  # the marts and the serving file agree


def test_a_quality_gate_stop_and_a_failed_backfill_print_a_few_lines(tmp_path):
    env = _env(tmp_path / "home", tmp_path / "prefect")
    assert _cli(env, "demo", "--customers", "120", "--end-date", "2025-12-31").returncode == 0
    stale = _cli(env, "run", "--as-of", "2026-06-01")  # five months after the newest line
    assert stale.returncode == 3, stale.stderr
    assert "Traceback" not in stale.stderr and "│" not in stale.stderr
    assert len(stale.stderr.splitlines()) < 30, stale.stderr
    errors = stale.stderr[stale.stderr.index("error: ") :].splitlines()
    assert errors[0].startswith("error: 1 critical expectation(s) failed") and len(errors) <= 6
    backfill = _cli(env, "backfill", "2026-05-01", "2026-06-01", "--step-days", "14")
    assert backfill.returncode == 3, backfill.stderr
    assert "Traceback" not in backfill.stderr
    assert len(backfill.stderr.splitlines()) < 40, backfill.stderr  # was 811
