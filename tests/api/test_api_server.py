"""`segments api` as a real uvicorn server on 127.0.0.1, answering while publishes replace
the serving file, with a log that never holds a raw customer id."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[2]
SEGMENTS = str(Path(sys.executable).with_name("segments"))
API_KEY = "server-test-key"
CLIENTS, MAX_REQUESTS_PER_CLIENT, MAX_SECONDS = 4, 400, 120


def _api_world():
    spec = importlib.util.spec_from_file_location(
        "api_world", Path(__file__).with_name("api_world.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_api(home: Path, log: Path, port: int, **env: str) -> subprocess.Popen:
    """`segments api` in its own process, logging to `log`; returns once /health answers."""
    proc = subprocess.Popen(
        [SEGMENTS, "api", "--port", str(port)],
        env={
            **os.environ,
            "SEGMENTS_HOME": str(home),
            "SEGMENTS_PII_KEY": _api_world().KEY,
            "SEGMENTS_API_KEY": API_KEY,
            **env,
        },
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"segments api did not start:\n{log.read_text()[-3000:]}")


def _client(base: str, raw_ids: list[str], stop: threading.Event, out: dict) -> None:
    """Lookups (raw ids), profiles and health in turn until stopped; every non-200 is an error."""
    paths = ["/health", "/segments", "/segments/1/customers?limit=50"]
    with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=30) as http:
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if stop.is_set():
                break
            path = f"/customers/{raw_ids[n % len(raw_ids)]}/segment" if n % 2 else paths[n % 3]
            try:
                response = http.get(path)
                if response.status_code != 200:
                    out["errors"].append(f"{path}: {response.status_code} {response.text[:200]}")
                else:
                    out["runs"].add(response.json().get("run_id"))
            except httpx.HTTPError as exc:
                out["errors"].append(f"{path}: {type(exc).__name__}: {exc}")
            out["requests"] += 1


def test_the_api_answers_during_publishes_and_never_logs_a_raw_id(tmp_path: Path):
    world = _api_world()
    settings = world.settings_for(tmp_path / "home")
    world.publish(settings, 0)
    port, log = free_port(), tmp_path / "api.log"
    proc = start_api(settings.home, log, port)
    out: dict = {"errors": [], "runs": set(), "requests": 0}
    stop = threading.Event()
    raw_ids = world.raw_ids(200)
    clients = [
        threading.Thread(target=_client, args=(f"http://127.0.0.1:{port}", raw_ids, stop, out))
        for _ in range(CLIENTS)
    ]
    try:
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + MAX_SECONDS
        for n in range(1, 4):  # real publishes replace serving.duckdb while requests go in
            world.publish(settings, n)
            if time.monotonic() > deadline:
                break
        time.sleep(0.5)  # requests after the last publish
    finally:
        stop.set()
        for thread in clients:
            thread.join(60)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert out["errors"] == [], out["errors"][:10]
    assert out["requests"] > 50
    assert {"run-0", "run-3"} <= out["runs"], out["runs"]  # it read across the publishes
    text = log.read_text()
    # uvicorn shuts down gracefully, then re-raises the signal (exit status: killed by SIGTERM)
    assert code in (0, -signal.SIGTERM) and "Finished server process" in text, text[-2000:]
    assert '"GET /customers/<id> HTTP/1.1" 200' in text  # the access log is on, redacted
    assert "crm-" not in text, [line for line in text.splitlines() if "crm-" in line][:5]


def test_production_without_an_api_key_refuses_to_start(tmp_path: Path):
    done = subprocess.run(
        [SEGMENTS, "api", "--port", str(free_port())],
        env={
            **{k: v for k, v in os.environ.items() if k != "SEGMENTS_API_KEY"},
            "SEGMENTS_HOME": str(tmp_path),
            "SEGMENTS_ENVIRONMENT": "production",
            "SEGMENTS_PII_KEY": "p" * 32,  # a production key, so only the API key is missing
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "SEGMENTS_API_KEY" in done.stderr and "Traceback" not in done.stderr
