"""The monitoring stage of a run: drift and decay before training, and what they ask for.

Runs after the features are validated and before the train stage, so a drift or decay
verdict can make this run's `--retrain auto` retrain (the reason is recorded with the train
stage) and the flow can emit the matching Prefect events.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import duckdb

from segments.lifecycle import current_champion
from segments.monitor.decay import check_decay, decay_reason
from segments.monitor.drift import detect_drift
from segments.monitor.events import monitor_events
from segments.settings import Settings


def monitor_stage(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str, as_of: date
) -> dict[str, Any]:
    """Drift and decay of this run (recorded in ops.drift, ops.model_monitoring), the retrain
    reason they give (None: nothing to act on) and the events to emit."""
    champion = current_champion(con)
    drift = detect_drift(con, settings, run_id=run_id, as_of=as_of)
    decay = check_decay(con, settings, run_id=run_id, as_of=as_of)
    reasons = [r for r in (drift.reason(), decay_reason(decay, settings.decay_max_drop)) if r]
    details: dict[str, Any] = json.loads(
        json.dumps({"drift": drift.summary(), "decay": decay}, default=str)
    )
    details["retrain_reason"] = "; ".join(reasons) or None
    details["events"] = monitor_events(
        details,
        run_id=run_id,
        as_of=as_of.isoformat(),
        feature_set=champion.feature_set if champion else "",
    )
    return details
