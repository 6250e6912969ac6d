"""Out-of-time backtest: what customers of each segment did after a past cutoff.

A segmentation is useful when its segments behave differently afterwards. Training builds
snapshots of the past (segments.models.backtest_select): the features as of the validation
cutoff c1 = as_of - horizon with what customers did over [c1, as_of), and, for candidates
that learn from an outcome, the features as of c2 = c1 - horizon with the outcome over
[c2, c1). Candidates are fitted at those cutoffs, never at as_of, so no fit has seen the
window it is judged on. Per segment, over [cutoff, cutoff + horizon):

- retention: share of the segment's customers who bought again (a purchase invoice);
- revenue_per_customer: mean net revenue (purchases minus returns), non-buyers as 0;
- avg_order_value: purchase value per purchase invoice (order-weighted);
- purchases_per_customer: purchase invoices per customer;
- conversion: web sessions with a purchase event / sessions (null without events).

Summaries over the whole assignment:
- explained_variance: eta squared of y = log1p(max(future net revenue, 0)) by segment, i.e.
  between-segment sum of squares / total sum of squares (0 = segments say nothing about
  future revenue, 1 = they determine it);
- retention_spread: max - min segment retention (how far apart the best and worst
  segments are); retention_std, the size-weighted standard deviation, is kept alongside as
  a check that a tiny extreme segment is not what makes the spread.
The baseline is the named RFM segment (`rfm_segment`) of the same customers at the cutoff.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from segments.core.sql import run_layer, select_model
from segments.features import feature_params

SEGMENTS_SQL = """
with

outcomes as (
    select
        a.segment,
        coalesce(o.purchases, 0) as purchases,
        coalesce(o.purchase_value, 0.0) as purchase_value,
        coalesce(o.net_revenue, 0.0) as net_revenue,
        -- log revenue: one big buyer must not decide the explained variance
        ln(1 + greatest(coalesce(o.net_revenue, 0.0), 0.0)) as log_revenue,
        o.sessions,
        o.converted_sessions
    from _bt_assignments as a
    left join _bt_outcomes as o on cast(a.customer_id as varchar) = o.customer_id
)

select
    segment,
    count(*) as customers,
    avg(cast(purchases > 0 as double)) as retention,
    avg(net_revenue) as revenue_per_customer,
    sum(purchase_value) filter (where purchases > 0) / nullif(sum(purchases), 0)
        as avg_order_value,
    avg(purchases) as purchases_per_customer,
    sum(converted_sessions) / nullif(sum(sessions), 0) as conversion,
    avg(log_revenue) as mean_log_revenue,
    var_pop(log_revenue) as var_log_revenue
from outcomes
group by segment
order by segment
"""

METRICS = [
    "customers",
    "retention",
    "revenue_per_customer",
    "avg_order_value",
    "purchases_per_customer",
    "conversion",
]


def backtest_window(
    as_of: date, horizon_days: int, cutoff: date | None = None
) -> tuple[date, date]:
    """Cutoff and end of the outcome window; the end may not pass as_of (no future data)."""
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    cutoff = cutoff or as_of - timedelta(days=horizon_days)
    end = cutoff + timedelta(days=horizon_days)
    if end > as_of:
        raise ValueError(
            f"backtest window {cutoff}..{end} ends after as_of {as_of}; move the cutoff "
            f"to {as_of - timedelta(days=horizon_days)} or earlier, or shorten the horizon"
        )
    return cutoff, end


def features_as_of(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    relation: str,
    cutoff: date,
    params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The feature rows as of a past cutoff, leaving the features schema as it was.

    `params` are the run's feature parameters (its as_of is replaced by the cutoff), so the
    backtest computes features with the same assumptions as the run. The feature layer is
    rebuilt inside a transaction that is always rolled back, so features.* stay at the run's
    as_of (later stages read them) and no reader ever sees the cutoff tables.
    """
    layer_params = {**(params or feature_params(cutoff)), "as_of": cutoff}
    con.execute("begin transaction")
    try:
        run_layer(con, sql_dir, "features", layer_params)
        return con.execute(f"select * from {relation} order by customer_id").df()
    finally:
        con.execute("rollback")


def customer_outcomes(
    con: duckdb.DuckDBPyConnection, sql_dir: Path, *, cutoff: date, horizon_days: int
) -> pd.DataFrame:
    """Per customer, purchases, revenue and sessions in [cutoff, cutoff + horizon)."""
    end = cutoff + timedelta(days=horizon_days)
    return select_model(
        con, sql_dir, "backtest", "customer_outcomes", {"cutoff": cutoff, "end": end}
    ).df()


def summarise(
    assignments: pd.DataFrame, outcomes: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-segment outcomes and the summaries, for one assignment of customers to segments."""
    if assignments.empty:
        raise ValueError("no customers to backtest; the features at the cutoff are empty")
    con = duckdb.connect()
    try:
        con.register("_bt_assignments", assignments[["customer_id", "segment"]])
        con.register("_bt_outcomes", outcomes)
        per = con.execute(SEGMENTS_SQL).df()
    finally:
        con.close()
    return per[["segment", *METRICS]], _summary(per)


def _summary(per: pd.DataFrame) -> dict[str, Any]:
    """Eta squared of log future revenue and the spread of retention across segments."""
    n = per["customers"].astype(float)
    total = float(n.sum())
    grand = float((n * per["mean_log_revenue"]).sum() / total)
    between = float((n * (per["mean_log_revenue"] - grand) ** 2).sum())
    within = float((n * per["var_log_revenue"].fillna(0.0)).sum())
    retention = per["retention"].astype(float)
    overall = float((n * retention).sum() / total)
    weighted_var = float((n * (retention - overall) ** 2).sum() / total)
    return {
        "customers": int(total),
        "segments": len(per),
        "explained_variance": between / (between + within) if between + within > 0 else 0.0,
        "retention_spread": float(retention.max() - retention.min()),
        "retention_std": math.sqrt(weighted_var),
        "retention": overall,
        "revenue_per_customer": float((n * per["revenue_per_customer"]).sum() / total),
    }


def backtest_assignments(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    assignments: pd.DataFrame,
    *,
    cutoff: date,
    horizon_days: int,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Backtest one assignment (customer_id, segment) over [cutoff, cutoff + horizon)."""
    outcomes = customer_outcomes(con, sql_dir, cutoff=cutoff, horizon_days=horizon_days)
    return summarise(assignments, outcomes)


def history_before(con: duckdb.DuckDBPyConnection, cutoff: date) -> int:
    """Days of transaction history before the cutoff (0 when there is none)."""
    row = con.execute(
        "select coalesce(datediff('day', min(invoiced_at), cast($cutoff as timestamp)), 0) "
        "from staging.stg_transactions where invoiced_at < $cutoff",
        {"cutoff": cutoff},
    ).fetchone()
    return int(row[0]) if row else 0


def backtest_rows(
    per: pd.DataFrame,
    summary: dict[str, Any],
    *,
    segment_ids: dict[Any, int] | None = None,
    segment_names: dict[Any, str] | None = None,
) -> pd.DataFrame:
    """ops.backtests rows: one per segment, then the total (segment_id and name null)."""
    rows = per.copy()
    rows["segment_id"] = rows["segment"].map(segment_ids) if segment_ids else None
    rows["segment_name"] = (
        rows["segment"].map(segment_names) if segment_names else rows["segment"].astype(str)
    )
    n = rows["customers"].astype(float)
    orders = n * rows["purchases_per_customer"]
    total = {
        "segment_id": None,
        "segment_name": None,
        "customers": int(n.sum()),
        "retention": summary["retention"],
        "revenue_per_customer": summary["revenue_per_customer"],
        "avg_order_value": float((orders * rows["avg_order_value"].fillna(0)).sum() / orders.sum())
        if orders.sum() > 0
        else None,
        "purchases_per_customer": float(orders.sum() / n.sum()),
        "conversion": None,
        "explained_variance": summary["explained_variance"],
        "retention_spread": summary["retention_spread"],
        "retention_std": summary["retention_std"],
        "k": summary.get("k", len(per)),
        "retention_eta2": summary.get("retention_eta2"),
        "objective": summary.get("objective"),
    }
    rows = rows.drop(columns="segment")
    return pd.concat([rows, pd.DataFrame([total])], ignore_index=True)
