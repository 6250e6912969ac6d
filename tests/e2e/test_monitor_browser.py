"""The monitoring page in headless Chromium: every chart draws, no console errors, a
screenshot in tests/artifacts/monitor.png. The warehouse holds eight weekly publishes of
two segments, drift, model quality and campaign results written straight into the tables the
page reads (the pipeline that fills them is tested in tests/monitor)."""

from __future__ import annotations

import base64
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_browser import ARTIFACTS, Cdp, browser  # noqa: F401 (fixture)

from segments.core.db import connect
from segments.core.sql import apply_schema
from segments.report import build_monitor_page
from segments.settings import Settings

WEEKS = [date(2025, 11, 6) + timedelta(days=7 * i) for i in range(8)]


def _insert(con, table: str, frame: pd.DataFrame) -> None:
    con.register("_rows", frame)
    con.execute(f"insert into {table} by name select * from _rows")
    con.unregister("_rows")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = Settings(home=tmp_path_factory.mktemp("monitor-home"), pii_key="k")
    rng = np.random.default_rng(0)
    names = {1: "Champions", 2: "At risk", 3: "New customers"}
    with connect(settings) as con:
        apply_schema(con, settings.sql_dir)
        kpis = pd.DataFrame(
            [
                {
                    "as_of": d,
                    "segment_id": s,
                    "segment_name": n,
                    "model_version": "m1",
                    "run_id": f"r{i}",
                    "customers": 100 * s + 5 * i,
                    "window_days": 28,
                    "revenue": float(rng.gamma(5, 200 * s)),
                    "joined_customers": 5,
                    "left_customers": 3,
                    "retention": 0.3 * s if i < 3 else None,
                }
                for i, d in enumerate(WEEKS)
                for s, n in names.items()
            ]
        )
        _insert(con, "marts.segment_kpis", kpis)
        _insert(
            con,
            "marts.segment_migration",
            pd.DataFrame(
                [
                    {
                        "as_of": WEEKS[-1],
                        "previous_as_of": WEEKS[-2],
                        "from_segment_id": a,
                        "from_segment_name": names[a],
                        "to_segment_id": b,
                        "to_segment_name": names[b],
                        "customers": 50 if a == b else 4,
                        "model_version": "m1",
                        "run_id": "r7",
                    }
                    for a in names
                    for b in names
                ]
            ),
        )
        drift = pd.DataFrame(
            [
                {
                    "run_id": f"r{i}",
                    "as_of": d,
                    "model_version": "m1",
                    "feature_set": "retail",
                    "kind": "feature",
                    "feature": f,
                    "psi": 0.02 * i * (3 if f == "monetary" else 1),
                    "watch_threshold": 0.1,
                    "threshold": 0.25,
                    "verdict": "stable",
                    "recorded_at": pd.Timestamp(d),
                }
                for i, d in enumerate(WEEKS)
                for f in ("monetary", "recency_days", "frequency")
            ]
        )
        _insert(con, "ops.drift", drift)
        con.execute(
            "insert into ops.model_registry (model_version, trained_at, as_of, feature_set, "
            "algorithm, k, artifact_path, status) values ('m1', now()::timestamp, $d, "
            "'retail', 'kmeans', 3, 'none', 'champion')",
            {"d": WEEKS[0]},
        )
        con.execute(
            "insert into ops.backtests (model_version, cutoff, horizon_days, method, "
            "explained_variance, retention_spread, recorded_at) values ('m1', $d, 90, "
            "'model', 0.3, 0.5, now()::timestamp)",
            {"d": WEEKS[0] - timedelta(days=90)},
        )
        _insert(
            con,
            "ops.model_monitoring",
            pd.DataFrame(
                [
                    {
                        "run_id": f"r{i}",
                        "as_of": d,
                        "model_version": "m1",
                        "publish_as_of": d - timedelta(days=90),
                        "horizon_days": 90,
                        "customers": 600,
                        "segments": 3,
                        "explained_variance": 0.3 - 0.01 * i,
                        "retention_spread": 0.5 - 0.02 * i,
                        "max_drop": 0.04 * i,
                        "is_champion": True,
                        "verdict": "ok",
                        "recorded_at": pd.Timestamp(d),
                    }
                    for i, d in enumerate(WEEKS[4:])
                ]
            ),
        )
        campaigns = pd.DataFrame(
            [
                {
                    "as_of": WEEKS[-1],
                    "run_id": "r7",
                    "model_version": "m1",
                    "campaign_id": c,
                    "channel": "email",
                    "first_sent_at": pd.Timestamp(WEEKS[j]),
                    "last_sent_at": pd.Timestamp(WEEKS[j]),
                    "segment_id": s,
                    "segment_name": n,
                    "treatment_customers": 200,
                    "control_customers": 0 if c == "CMP3" else 50,
                    "treatment_open_rate": 0.4,
                    "treatment_click_rate": 0.1,
                    "treatment_conversion_rate": 0.1 + 0.02 * s,
                    "control_conversion_rate": None if c == "CMP3" else 0.05,
                    "treatment_revenue_per_customer": 5.0,
                    "control_revenue_per_customer": None if c == "CMP3" else 2.0,
                    "conversion_uplift": None if c == "CMP3" else 0.05 + 0.02 * s,
                    "conversion_uplift_low": None if c == "CMP3" else 0.01 * s,
                    "conversion_uplift_high": None if c == "CMP3" else 0.1 + 0.02 * s,
                    "revenue_uplift": None if c == "CMP3" else 3.0,
                    "revenue_uplift_low": None,
                    "revenue_uplift_high": None,
                    "confidence": 0.95,
                }
                for j, c in enumerate(("CMP1", "CMP2", "CMP3"))
                for s, n in names.items()
            ]
        )
        con.register("_c", campaigns)
        con.execute("create table marts.campaign_results as select * from _c")
        return build_monitor_page(con, settings)


def test_monitor_page_renders_in_headless_chromium(browser: str, page: Path) -> None:  # noqa: F811
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
        cdp.send("Page.navigate", url=page.resolve().as_uri())
        cdp.wait_for("Page.loadEventFired", timeout=120)
        expected = int(cdp.evaluate("Number(document.body.dataset.charts)"))
        drawn_js = (
            "Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".filter(d => d.querySelector('.main-svg')).length"
        )
        deadline = time.monotonic() + 60
        while (drawn := cdp.evaluate(drawn_js)) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        # the thresholds are drawn on the drift chart (two dashed lines)
        shapes = cdp.evaluate(
            "document.querySelector('#drift .js-plotly-plot').layout.shapes.length"
        )
        notices = cdp.evaluate("document.querySelectorAll('.notice').length")
        height = cdp.evaluate("document.documentElement.scrollHeight")
        shot = cdp.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": min(height, 16000), "scale": 1},
            timeout=120,
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / "monitor.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        errors = cdp.errors()
    finally:
        cdp.close()
    # sizes, revenue, retention, migration, drift, model quality, campaigns
    assert expected == 7
    assert drawn == expected, f"{drawn} of {expected} charts drew"
    assert shapes == 2 and notices == 0
    assert errors == [], errors
    assert path.stat().st_size > 10_000
