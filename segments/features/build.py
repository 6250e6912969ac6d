"""The feature stage: warehouse/features SQL as of a date, its lake copy, and the CLV fit."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

import duckdb

from segments.core.lake import export_table
from segments.core.progress import Progress
from segments.core.sql import run_layer
from segments.features.clv import fit_clv
from segments.features.sets import settings_feature_params
from segments.settings import Settings


def build_features(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: date,
    *,
    full_refresh: bool = False,
) -> dict[str, int]:
    """Run every feature model as of `as_of`; nothing on or after it is read.

    The per-customer aggregates (`agg_*`) first take in what the loads since the last build
    changed (everything with `full_refresh`), then the point-in-time models read them. The
    layer is one transaction: a model that fails leaves the previous features whole.
    """
    params = settings_feature_params(settings, as_of)
    progress = Progress("features", f"features as of {as_of.isoformat()}")
    con.execute("begin transaction")
    try:
        counts = run_layer(
            con,
            settings.sql_dir,
            "features",
            params,
            full_refresh=full_refresh,
            # the lake copy is the last step
            progress=lambda done, total, model: progress.update(done / (total + 1), model),
        )
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    folder = settings.lake_dir / "features" / "customer_features" / f"as_of={as_of.isoformat()}"
    export_table(con, "features.customer_features", folder)
    progress.done(f"{counts.get('customer_features', 0):,} customers")
    return counts


def fit_probabilistic_clv(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date
) -> dict[str, Any]:
    """BG/NBD + Gamma-Gamma on this as_of's lifetimes summary -> features.customer_clv."""
    summary = con.execute(
        "select customer_id, lt_frequency, lt_recency_days, lt_t_days, lt_monetary "
        "from features.customer_features where as_of = $as_of order by customer_id",
        {"as_of": as_of},
    ).df()
    con.execute("delete from features.customer_clv")
    if summary.empty or (summary["lt_frequency"] > 0).sum() == 0:
        return {"fitted": False, "reason": "no repeat purchasers before as_of"}
    fit = fit_clv(
        summary,
        horizon_months=settings.clv_horizon_months,
        monthly_discount_rate=settings.clv_monthly_discount_rate,
        seed=settings.seed,
    )
    frame = fit.customers.assign(
        as_of=as_of,
        horizon_months=settings.clv_horizon_months,
        monthly_discount_rate=settings.clv_monthly_discount_rate,
    )
    con.register("_clv", frame)
    con.execute("insert into features.customer_clv by name select * from _clv")
    con.unregister("_clv")
    return {
        "fitted": True,
        "bgnbd": asdict(fit.bgnbd),
        "gamma_gamma": asdict(fit.gamma_gamma) if fit.gamma_gamma else None,
        "total_clv": round(float(frame["clv"].sum()), 2),
    }


def build_feature_stage(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, *, full_refresh: bool = False
) -> dict[str, Any]:
    """The feature stage of a run: point-in-time features, then the probabilistic CLV."""
    return {
        "rows": build_features(con, settings, as_of, full_refresh=full_refresh),
        "clv": fit_probabilistic_clv(con, settings, as_of),
    }
