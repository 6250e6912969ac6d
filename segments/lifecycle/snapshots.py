"""Snapshots of the past for an out-of-time selection: features (+ lifetime value) as of a
cutoff and what customers did in the horizon after it (segments.models.backtest_select)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from segments.features import feature_params, fit_clv
from segments.lifecycle.backtest import (
    backtest_window,
    customer_outcomes,
    features_as_of,
    history_before,
)
from segments.models import BacktestInputs, Snapshot, training_pool, with_value_columns
from segments.settings import Settings

log = logging.getLogger(__name__)
# A cutoff's lifetime-value parameters (4 + 3 numbers) are fitted on a seeded sample of this
# many customers and applied to all: past a few 10,000 customers more rows move them little
# and the fit is most of a snapshot's Python time (the feature stage's own fit uses all).
CLV_FIT_SAMPLE = 20_000


def outcome_arrays(frame: pd.DataFrame, outcomes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row of frame: y = log1p(max(net revenue, 0)) in the window, and bought again."""
    keyed = outcomes.set_index(outcomes["customer_id"].astype(str))
    ids = frame["customer_id"].astype(str)
    revenue = keyed["net_revenue"].reindex(ids).fillna(0.0).to_numpy(dtype=float)
    purchases = keyed["purchases"].reindex(ids).fillna(0).to_numpy(dtype=float)
    return np.log1p(np.clip(revenue, 0.0, None)), (purchases > 0).astype(float)


def clv_at(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame | None:
    """The feature stage's BG/NBD + Gamma-Gamma fit, on a cutoff's lifetimes summary."""
    if "lt_frequency" not in frame or not (frame["lt_frequency"] > 0).any():
        return None
    try:
        return fit_clv(
            frame[["customer_id", "lt_frequency", "lt_recency_days", "lt_t_days", "lt_monetary"]],
            horizon_months=settings.clv_horizon_months,
            monthly_discount_rate=settings.clv_monthly_discount_rate,
            seed=settings.seed,
            fit_sample=CLV_FIT_SAMPLE,
        ).customers
    except (ValueError, RuntimeError) as error:  # no repeat buyers, or the fit failed
        log.warning("lifetime value not fitted on the cutoff's summary: %s", error)
        return None


@dataclass
class BacktestData:
    """The snapshots of an out-of-time selection and the outcomes they were scored on."""

    inputs: BacktestInputs
    horizon_days: int
    cutoff: date  # c1: validation window [c1, c1 + horizon) ends at or before as_of
    train_cutoff: date | None  # c2 = c1 - horizon, when the history allows trees
    validation_outcomes: pd.DataFrame
    baseline: np.ndarray | None  # the named RFM segment of the validation customers


def snapshot(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    relation: str,
    cutoff: date,
    horizon_days: int,
    params: Mapping[str, Any],
) -> tuple[Snapshot, pd.DataFrame]:
    """Features (+ lifetime value) as of cutoff and the outcome over [cutoff, cutoff + H).

    Reads only lines before cutoff + horizon: the features take lines before the cutoff,
    the outcome lines in the window.
    """
    frame = features_as_of(con, settings.sql_dir, relation, cutoff, params)
    frame = with_value_columns(frame, clv_at(frame, settings))
    outcomes = customer_outcomes(con, settings.sql_dir, cutoff=cutoff, horizon_days=horizon_days)
    y, retained = outcome_arrays(frame, outcomes)
    end = cutoff + timedelta(days=horizon_days)
    label = f"{cutoff} (outcome {cutoff}..{end})"
    return Snapshot(frame, y, retained, label=label, outcome_end=end), outcomes


def prepare_backtest(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    relation: str,
    now: pd.DataFrame,
    as_of: date,
    horizon_days: int,
    cutoff: date | None = None,
    params: Mapping[str, Any] | None = None,
    folds: int = 1,
    pool_windows: int = 1,
) -> BacktestData | str:
    """The validation and training snapshots of up to `folds` windows, one horizon apart
    (fold j validates at c1 - j * horizon and its trees learn one horizon before that);
    or why no backtest is possible. A fold whose cutoff has too little history or too few
    customers is left out, so a short history gives fewer folds, never a failure.

    pool_windows > 1: supervised recipes learn from up to that many of the snapshots built
    here pooled (recipes.training_pool), each matured by the cutoff it is used at; no
    snapshot is built for the pool alone, so older folds pool fewer windows."""
    if horizon_days == 0:
        return "backtest disabled (backtest_horizon_days = 0)"
    if relation != "features.customer_features":
        return f"{relation} has no purchase history to backtest against"
    c1, _ = backtest_window(as_of, horizon_days, cutoff)
    days = history_before(con, c1)
    if days < settings.min_history_days:
        return (
            f"only {days} days of history before the backtest cutoff {c1} (need "
            f"{settings.min_history_days} + a {horizon_days}-day horizon); backtest skipped"
        )
    params = params or feature_params(as_of)
    cache: dict[date, tuple[Snapshot, pd.DataFrame] | None] = {}

    def at(day: date) -> tuple[Snapshot, pd.DataFrame] | None:
        """The snapshot at a cutoff, once; None when its history or customers are short."""
        if day not in cache:
            cache[day] = None
            if history_before(con, day) >= settings.min_history_days:
                snap = snapshot(con, settings, relation, day, horizon_days, params)
                if len(snap[0].frame) >= settings.min_customers:
                    cache[day] = snap
        return cache[day]

    step = timedelta(days=horizon_days)
    first = at(c1)
    if first is None:
        n = len(features_as_of(con, settings.sql_dir, relation, c1, params))
        return f"only {n} customers at the backtest cutoff {c1}; skipped"
    validate, outcomes = first
    c2 = c1 - step
    train = at(c2)
    mode, note = "out_of_time", ""
    if train is None:
        mode = "unsupervised_only"
        note = (
            f"trees skipped: {history_before(con, c2)} days of history before {c2} (need "
            f"{settings.min_history_days}) leave no matured horizon to learn from and "
            "still judge them out of time"
        )
    earlier: list[tuple[Snapshot, Snapshot | None]] = []
    for j in range(1, max(1, folds)):
        older = at(c1 - j * step)
        if older is None:
            break  # older cutoffs have even less history
        before = at(c1 - (j + 1) * step)
        earlier.append((older[0], before[0] if before else None))
    learnt = train[0] if train else None
    learn = None
    if pool_windows > 1:
        matured = [snap for snap, _ in filter(None, cache.values())]
        pool = lambda cut: training_pool(matured, cut, pool_windows)
        learnt = pool(c1) if train else None  # fold 0 validates at c1
        earlier = [(v, pool(c1 - (j + 1) * step)) for j, (v, _) in enumerate(earlier)]  # fold j+1
        learn = pool(as_of)
    baseline = (
        validate.frame["rfm_segment"].to_numpy() if "rfm_segment" in validate.frame else None
    )
    inputs = BacktestInputs(
        Snapshot(now, label=str(as_of)),
        validate,
        learnt,
        mode,
        note,
        earlier,
        learn,
    )
    return BacktestData(inputs, horizon_days, c1, c2 if train else None, outcomes, baseline)
