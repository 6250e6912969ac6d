"""Model decay: once a horizon has matured, the published segments are re-scored on what
their customers actually did, as the business backtest does at training time.

At each run, the latest publish at least SEGMENTS_MONITOR_HORIZON_DAYS before as_of is
taken; its customers (marts.segment_history at that date) and their outcomes over
[publish, publish + horizon) give eta squared of log future revenue and the retention
spread (segments.lifecycle's backtest summary), recorded in ops.model_monitoring beside the
training backtest of the model that published them. A relative drop beyond
SEGMENTS_DECAY_MAX_DROP is 'decayed' (a reason to retrain) while that model is still the
champion, 'superseded' once another model has replaced it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from segments.lifecycle import backtest_assignments, current_champion
from segments.settings import Settings

MEMBERS_SQL = """
select customer_id, segment_id as segment
from marts.segment_history
where valid_from <= $day and (valid_to is null or valid_to > $day)
order by customer_id
"""

TRAINING_SQL = """
select explained_variance, retention_spread
from ops.backtests
where model_version = $v and method = 'model' and segment_id is null and segment_name is null
order by recorded_at desc
limit 1
"""

METRICS = ("explained_variance", "retention_spread")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def relative_drop(trained: float | None, now: float) -> float | None:
    """1 - now / trained (0.3 = 30% lower than at training); None without a baseline."""
    if trained is None or pd.isna(trained) or trained <= 0:
        return None
    return 1.0 - now / trained


def matured_publish(
    con: duckdb.DuckDBPyConnection, as_of: date, horizon_days: int
) -> tuple[date, str] | None:
    """The latest publish whose outcome window [as_of, as_of + horizon) has passed."""
    return con.execute(
        "select as_of, model_version from marts.publishes where as_of <= $last "
        "order by as_of desc limit 1",
        {"last": as_of - timedelta(days=horizon_days)},
    ).fetchone()


def check_decay(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str, as_of: date
) -> dict[str, Any]:
    """Re-score the latest matured publish; record and return it (verdict 'pending' if none)."""
    horizon = settings.monitor_horizon_days
    found = matured_publish(con, as_of, horizon)
    if found is None:
        return {
            "verdict": "pending",
            "reason": f"no publish {horizon} or more days before {as_of} yet",
        }
    published, version = found
    members = con.execute(MEMBERS_SQL, {"day": published}).df()
    if members["segment"].nunique() < 2:
        return {"verdict": "pending", "reason": f"the publish of {published} has < 2 segments"}
    _, summary = backtest_assignments(
        con, settings.sql_dir, members, cutoff=published, horizon_days=horizon
    )
    trained = con.execute(TRAINING_SQL, {"v": version}).fetchone()
    baseline = dict(zip(METRICS, trained)) if trained else {}
    drops = {m: relative_drop(baseline.get(m), summary[m]) for m in METRICS}
    known = [d for d in drops.values() if d is not None]
    max_drop = max(known) if known else None
    champion = current_champion(con)
    is_champion = champion is not None and champion.model_version == version
    if max_drop is None:
        verdict = "no baseline"
    elif max_drop <= settings.decay_max_drop:
        verdict = "ok"
    else:
        verdict = "decayed" if is_champion else "superseded"
    row = {
        "run_id": run_id,
        "as_of": as_of,
        "model_version": version,
        "publish_as_of": published,
        "horizon_days": horizon,
        "customers": summary["customers"],
        "segments": summary["segments"],
        "explained_variance": summary["explained_variance"],
        "retention_spread": summary["retention_spread"],
        "retention": summary["retention"],
        "train_explained_variance": baseline.get("explained_variance"),
        "train_retention_spread": baseline.get("retention_spread"),
        "explained_variance_drop": drops["explained_variance"],
        "retention_spread_drop": drops["retention_spread"],
        "max_drop": max_drop,
        "is_champion": is_champion,
        "verdict": verdict,
        "recorded_at": _now(),
    }
    con.execute("delete from ops.model_monitoring where run_id = $r", {"r": run_id})
    con.register("_monitoring", pd.DataFrame([row]))
    con.execute("insert into ops.model_monitoring by name select * from _monitoring")
    con.unregister("_monitoring")
    return {k: row[k] for k in row if k not in ("run_id", "recorded_at")}


def decay_reason(result: dict[str, Any], max_drop: float) -> str | None:
    """The retrain reason when the champion's matured segments decayed."""
    if result.get("verdict") != "decayed":
        return None
    return (
        f"decay: segments of {result['publish_as_of']} ({result['model_version']}) "
        f"{result['max_drop']:.0%} below their training backtest (limit {max_drop:.0%})"
    )
