"""The run report in headless Chromium: no console errors, every chart drew, a screenshot.

Chromium is driven over the DevTools protocol (CDP) with the `websockets` client Prefect already
depends on, so no browser download is needed. CI installs Debian's `chromium` (.ci/run).
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_DIR / "tests" / "artifacts"
AS_OF = date(2026, 1, 1)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """The first Chromium-like browser on PATH."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def free_port() -> int:
    """A free local TCP port for --remote-debugging-port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cdp:
    """A minimal DevTools client: commands by id, events collected while waiting."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=30)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        """Send one command and return its result, keeping the events that arrive meanwhile."""
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        """Block until an event named method arrives (or was already seen)."""
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=deadline - time.monotonic())))

    def evaluate(self, expression: str) -> Any:
        """Evaluate JS in the page and return its value."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and log errors seen so far."""
        found = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                found.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
                found.append(json.dumps(p.get("args", []))[:500])
            elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
                found.append(
                    f"{p['entry'].get('source')}: {p['entry'].get('text')}"
                    f" {p['entry'].get('url', '')}"
                )
        return found

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Headless Chromium with a DevTools port; yields the websocket URL of a blank page."""
    binary = find_browser()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; CI installs it)")
    port = free_port()
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-allow-origins=*",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "--window-size=1280,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, targets = time.monotonic() + 60, []
        while time.monotonic() < deadline and not targets:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    targets = [t for t in json.load(r) if t.get("type") == "page"]
            except OSError:
                time.sleep(0.3)
        if not targets:
            pytest.fail(f"{binary} did not open a DevTools page on port {port} within 60 s")
        yield targets[0]["webSocketDebuggerUrl"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a small demo run (300 customers), built with the pipeline's functions."""
    from segments.core.db import connect
    from segments.core.warehouse import prepare_warehouse
    from segments.demo.generate import generate_demo
    from segments.features import build_features
    from segments.ingest import ingest_landing, refresh_staging
    from segments.lifecycle import score_customers, train_challenger
    from segments.models import TrainConfig
    from segments.report import build_report
    from segments.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("report-home"), pii_key="test-key")
    generate_demo(settings.landing_dir, customers=300, seed=7)
    prepare_warehouse(settings)
    with connect(settings) as con:
        ingest_landing(con, settings, "e2e")
        refresh_staging(con, settings)
        build_features(con, settings, AS_OF)
        train_challenger(
            con,
            settings,
            run_id="e2e",
            as_of=AS_OF,
            feature_set_name="retail",
            config=TrainConfig(k_min=3, k_max=5, bootstrap_rounds=2),
        )
        score_customers(con, run_id="e2e", as_of=AS_OF, feature_set_name="retail")
        return build_report(con, settings, "e2e")


def test_report_renders_in_headless_chromium(browser: str, report: Path) -> None:
    cdp = Cdp(browser)
    try:
        for domain in ("Page", "Runtime", "Log"):
            cdp.send(f"{domain}.enable")
        cdp.send(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        cdp.send("Page.navigate", url=report.resolve().as_uri())
        cdp.wait_for("Page.loadEventFired", timeout=120)
        expected = int(cdp.evaluate("Number(document.body.dataset.charts)"))
        drawn_js = (
            "Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".filter(d => d.querySelector('.main-svg')).length"
        )
        deadline = time.monotonic() + 60
        while (drawn := cdp.evaluate(drawn_js)) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        # exercise the segment filter: choose the first segment, every scatter still drawn
        filtered = cdp.evaluate(
            "(() => { const s = document.getElementById('segment-filter');"
            " s.selectedIndex = 1; s.dispatchEvent(new Event('change'));"
            " return s.value; })()"
        )
        hidden = cdp.evaluate("document.querySelectorAll('.card[style*=\"none\"]').length")
        height = cdp.evaluate("document.documentElement.scrollHeight")
        shot = cdp.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": min(height, 16000), "scale": 1},
            timeout=120,
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / "report.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {path}")
        errors = cdp.errors()
    finally:
        cdp.close()
    assert expected >= 10, "a retail run draws at least 10 charts"
    assert drawn == expected, f"{drawn} of {expected} charts drew"
    assert filtered and hidden >= 1, "the segment filter hides the other segments' cards"
    assert errors == [], errors
    assert path.stat().st_size > 10_000
