"""The events a run emits match the trigger in prefect.yaml; the monitoring page draws one
chart per part that has data and says so where there is none; status shows the verdicts."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import yaml
from monitor_world import add_lines, at, publish, world_settings

from segments.core.db import connect
from segments.monitor import DRIFT_DETECTED, MODEL_DECAYED, monitor_events, monitor_status_lines
from segments.report import build_monitor_page

PROJECT = Path(__file__).resolve().parents[2]
D1 = date(2026, 1, 1)


def _details() -> dict:
    return {
        "drift": {
            "verdict": "act",
            "model_version": "m1",
            "threshold": 0.25,
            "psi": {"monetary": 0.4, "recency_days": 0.02},
            "acting": ["monetary"],
        },
        "decay": {
            "verdict": "decayed",
            "model_version": "m1",
            "publish_as_of": "2025-10-01",
            "explained_variance": 0.1,
            "train_explained_variance": 0.3,
            "retention_spread": 0.2,
            "train_retention_spread": 0.4,
            "max_drop": 0.67,
        },
    }


def test_act_verdicts_become_events_the_retrain_trigger_expects():
    events = monitor_events(_details(), run_id="r9", as_of="2026-01-05", feature_set="retail")
    assert [e["event"] for e in events] == [DRIFT_DETECTED, MODEL_DECAYED]
    assert events[0]["payload"]["features"] == {"monetary": 0.4}
    assert events[0]["payload"]["as_of"] == "2026-01-05"
    calm = {"drift": {"verdict": "watch"}, "decay": {"verdict": "superseded"}}
    assert monitor_events(calm, run_id="r", as_of="x", feature_set="retail") == []
    spec = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    retrain = next(d for d in spec["deployments"] if d["name"] == "retrain")
    (trigger,) = retrain["triggers"]
    assert set(trigger["expect"]) == {DRIFT_DETECTED, MODEL_DECAYED}
    pattern = trigger["match"]["prefect.resource.id"].replace(".", r"\.").replace("*", ".*")
    for event in events:
        assert re.fullmatch(pattern, event["resource"]["prefect.resource.id"])
    assert trigger["parameters"]["params"]["as_of"] == "{{ event.payload.as_of }}"


def test_page_and_status_before_and_after_data(tmp_path):
    settings = world_settings(tmp_path / "home")
    with connect(settings) as con:
        empty = build_monitor_page(con, settings).read_text()
        assert 'data-charts="0"' in empty and "Nothing published yet" in empty
        assert monitor_status_lines(con) == [
            "Drift: not measured yet (needs a champion trained with monitoring)",
            "Model decay: no matured publish re-scored yet",
            "Campaigns: none loaded",
        ]
    add_lines(settings, [("a", at(D1 - timedelta(days=2)), 10.0)])
    publish(settings, "r1", D1, {"a": 1, "b": 2})
    publish(settings, "r2", D1 + timedelta(days=1), {"a": 2, "b": 2})
    with connect(settings) as con:
        con.execute(
            "insert into ops.drift values ('r2', $d, 'm1', 'retail', 'feature', 'monetary', "
            "0.31, 0.1, 0.25, 'act', 10, 2, now()::timestamp)",
            {"d": D1 + timedelta(days=1)},
        )
        page = build_monitor_page(con, settings).read_text()
        lines = monitor_status_lines(con)
    # sizes, revenue, migration, drift; no backtest, matured publish or campaign yet
    assert 'data-charts="4"' in page
    assert "Needs two publishes" not in page and "No campaigns loaded" in page
    assert lines[:2] == [
        "Drift: act (run r2, as_of 2026-01-02, against m1)",
        "  act    monetary 0.31",
    ]
