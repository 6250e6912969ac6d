"""End to end against a real `prefect server` on 127.0.0.1: deploy, worker, trigger, check.

What a data engineer does: deploy prefect.yaml to a server, start a process worker, trigger
the nightly deployment with parameters from the UI (here: the same API call the UI makes),
and find the published segments in serving.duckdb and the history tables.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from segments.demo.generate import generate_demo

PROJECT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"prefect server at {url} did not become healthy in {timeout_s}s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real Prefect server with its own home and database, stopped afterwards."""
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_ENABLED": "false",
        "SEGMENTS_HOME": str(tmp_path / "home"),
        "SEGMENTS_PII_KEY": "e2e-key",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api", 180)
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _prefect(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [PREFECT, "--no-prompt", *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _flow_runs(env: dict[str, str], deployment: str) -> list[dict]:
    import httpx

    response = httpx.post(
        f"{env['PREFECT_API_URL']}/flow_runs/filter",
        json={"deployments": {"name": {"any_": [deployment]}}},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def _drift_triggers_the_retrain_deployment(env: dict[str, str], home: Path) -> None:
    """Shifted input: the nightly run (retrain=never) emits segments.drift.detected, and the
    trigger of prefect.yaml runs the retrain deployment as of that run's date."""
    landing = home / "landing" / "demo_transactions" / "shifted.csv"
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    lines += [
        f"{900000 + 3 * c + k},20725,BIG ORDER,50,2026-01-02 1{k}:00:00,40.00,C{c:07d},UK"
        for c in range(1, 301)
        for k in range(3)
    ]
    landing.write_text("\n".join(lines) + "\n")
    params = json.dumps({"as_of": "2026-01-03", "retrain": "never", "feature_set": "retail"})
    out = _prefect(
        env,
        "deployment",
        "run",
        "nightly_segmentation/nightly",
        "--param",
        f"params={params}",
        "--watch",
        "--watch-timeout",
        "900",
        timeout=960,
    )
    assert "Completed" in out, out
    deadline = time.monotonic() + 900
    triggered: list[dict] = []
    while time.monotonic() < deadline:
        # the weekly schedule also creates scheduled runs; the trigger's carries the as_of
        triggered = [
            r
            for r in _flow_runs(env, "retrain")
            if (r["parameters"].get("params") or {}).get("as_of") == "2026-01-03"
        ]
        if triggered and triggered[0]["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED"):
            break
        time.sleep(3)
    assert len(triggered) == 1, [r["parameters"] for r in _flow_runs(env, "retrain")]
    (run,) = triggered
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert run["parameters"]["params"]["feature_set"] == "retail"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        acting = con.execute(
            "select count(*) from ops.drift where as_of = '2026-01-03' and verdict = 'act'"
        ).fetchone()[0]
        flows = con.execute(
            "select flow_name from ops.runs where stage = 'train' order by started_at"
        ).fetchall()
    assert acting >= 2
    assert flows[-1] == ("retrain_segments",)


def test_deploy_worker_trigger_and_publish(server: dict[str, str], tmp_path: Path):
    env = server
    home = Path(env["SEGMENTS_HOME"])
    generate_demo(home / "landing", customers=300, seed=5)
    _prefect(env, "work-pool", "create", "segments-local", "--type", "process")
    out = _prefect(env, "deploy", "--all")
    assert "nightly_segmentation/nightly" in out
    worker_log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", "segments-local", "--limit", "1"],
        env=env,
        cwd=tmp_path,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        params = json.dumps(
            {
                "as_of": "2026-01-01",
                "retrain": "always",
                "feature_set": "retail",
                "algorithms": ["kmeans"],
                "k_min": 3,
                "k_max": 6,
            }
        )
        out = _prefect(
            env,
            "deployment",
            "run",
            "nightly_segmentation/nightly",
            "--param",
            f"params={params}",
            "--watch",
            "--watch-timeout",
            "900",
            timeout=960,
        )
        assert "Completed" in out, out
        with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
            rows, as_of = con.execute(
                "select count(*), any_value(as_of) from customer_segments"
            ).fetchone()
            history = con.execute("select count(*) from segment_history").fetchone()[0]
        assert rows > 200 and str(as_of) == "2026-01-01"
        assert history == rows
        _drift_triggers_the_retrain_deployment(env, home)
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        worker_log.close()


# --- the watcher against the real server: events, and a trigger that runs a deployment ---

SEGMENTS = str(Path(sys.executable).with_name("segments"))


def _api(env: dict[str, str], method: str, path: str, body: object = None) -> object:
    import httpx

    response = httpx.request(method, env["PREFECT_API_URL"] + path, json=body, timeout=30)
    response.raise_for_status()
    return response.json() if response.content else None


def _wait_until(check, timeout_s: float, what: str, poll_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def test_watcher_loads_trigger_score_recent_through_an_automation(
    server: dict[str, str], tmp_path: Path
):
    """After a nightly publish, a late file dropped while `segments watch` runs is loaded
    within the polling interval plus the load time; its load emits `segments.load.completed`;
    the score-recent deployment's trigger from prefect.yaml (shipped enabled) runs incremental
    scoring on it, and the touched customers' segments are in serving.duckdb soon after."""
    from datetime import UTC, datetime, timedelta

    from segments.core.pii import customer_pseudonym

    env, interval = server, 1.0
    home = Path(env["SEGMENTS_HOME"])
    today = datetime.now(UTC).date()
    generate_demo(home / "landing", customers=300, seed=5, end_date=today - timedelta(days=1))
    nightly = subprocess.run(
        [SEGMENTS, "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert nightly.returncode == 0, nightly.stdout[-3000:] + nightly.stderr[-3000:]
    _prefect(env, "work-pool", "create", "segments-local", "--type", "process")
    _prefect(env, "deploy", "--all")
    automations = _api(env, "POST", "/automations/filter", {})
    trigger = next(a for a in automations if a["name"] == "score-recent-after-load")
    assert trigger["enabled"] is True
    assert "nightly-after-load" not in {a["name"] for a in automations}
    deployment = _api(env, "GET", "/deployments/name/score-recent/score-recent")

    watch_log, worker_log = tmp_path / "watch.log", (tmp_path / "worker.log").open("w")
    watcher = subprocess.Popen(
        [SEGMENTS, "watch", "--interval", str(interval)],
        env=env,
        cwd=tmp_path,
        stdout=watch_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", "segments-local", "--limit", "1"],
        env=env,
        cwd=tmp_path,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    new_customer = customer_pseudonym("C0999999", env["SEGMENTS_PII_KEY"].encode())
    try:
        _wait_until(lambda: "Beginning flow run" in watch_log.read_text(), 120, "the watcher")
        # a late feed: yesterday's orders (before the served as_of), written aside, renamed in
        late = tmp_path / "late.csv"
        day = today - timedelta(days=1)
        late.write_text(
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
            f"990001,20725,LATE ORDER,4,{day} 10:00:00,12.50,C0999999,United Kingdom\n"
            f"990002,20725,LATE ORDER,2,{day} 11:00:00,12.50,C0000003,United Kingdom\n"
        )
        dropped = time.monotonic()
        late.rename(home / "landing" / "demo_transactions" / "late.csv")
        _wait_until(
            lambda: "loaded demo_transactions/late.csv" in watch_log.read_text(),
            120,
            "the watcher to load the late file",
            poll_s=0.2,
        )
        print(f"dropped -> loaded in {time.monotonic() - dropped:.1f}s (interval {interval}s)")

        def events() -> list[dict]:
            body = {"filter": {"event": {"name": ["segments.load.completed"]}}, "limit": 50}
            return [e for e in _api(env, "POST", "/events/filter", body)["events"]]

        (event,) = _wait_until(events, 60, "the load event")
        assert event["payload"]["source"] == "demo_transactions" and event["payload"]["rows"] == 2

        def served_new_customer() -> tuple | None:
            try:
                with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
                    return con.execute(
                        "select segment_id, as_of from customer_segments where customer_id = $c",
                        {"c": new_customer},
                    ).fetchone()
            except duckdb.Error:  # the file is being replaced (renamed): look again
                return None

        segment_id, as_of = _wait_until(
            served_new_customer, 600, "the new customer's segment to be served", poll_s=2
        )
        print(f"dropped -> served in {time.monotonic() - dropped:.1f}s")
        assert segment_id is not None and as_of == today  # the served as_of: the nightly's
        body = {"deployments": {"id": {"any_": [deployment["id"]]}}}
        runs = _wait_until(
            lambda: [
                r
                for r in _api(env, "POST", "/flow_runs/filter", body)
                if r["state_type"] == "COMPLETED"
            ],
            120,
            "the triggered score-recent run",
        )
        assert runs[0]["created_by"]["type"] == "AUTOMATION", runs[0]["created_by"]
    finally:
        watcher.send_signal(signal.SIGTERM)
        try:
            code = watcher.wait(60)
        except subprocess.TimeoutExpired:
            watcher.kill()
            code = "did not stop"
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        worker_log.close()
    text = watch_log.read_text()
    assert code == 0, text[-3000:]  # SIGTERM: the watcher finishes its cycle and exits cleanly
    assert "watcher stopped after" in text
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        rows, runs_served = con.execute(
            "select count(*), count(distinct run_id) from customer_segments"
        ).fetchone()
    assert rows > 200 and runs_served == 1
