"""Training a challenger: when it is due, fitting and backtesting it, registering it, and
promoting it only when it beats the champion."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pandas as pd
from threadpoolctl import threadpool_limits

from segments.features import FEATURE_SETS, FeatureSet, settings_feature_params
from segments.lifecycle.backtest import Backtest, prepare_backtest
from segments.lifecycle.catalog import build_catalog
from segments.lifecycle.promotion import backtest_headline, backtest_record, should_promote
from segments.lifecycle.registry import current_champion, register_model
from segments.lifecycle.retrain import RetrainMode, retrain_due
from segments.models import TrainConfig, check_sufficiency, fit_segmentation
from segments.settings import Settings


def load_features(con: duckdb.DuckDBPyConnection, feature_set: FeatureSet) -> pd.DataFrame:
    """The feature rows a model sees, ordered by their values (then id) so fits reproduce.

    Customer ids are pseudonyms whose order changes with SEGMENTS_PII_KEY; ordering by the
    features makes every fit and sampled metric downstream a function of the data alone.
    """
    keys = ", ".join([*feature_set.columns, "customer_id"])
    return con.execute(f"select * from {feature_set.relation} order by {keys}").df()


def transaction_history_days(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """Days of transaction history before as_of (0 when there is none)."""
    row = con.execute(
        "select coalesce(datediff('day', min(invoiced_at), $as_of::timestamp), 0) "
        "from staging.stg_transactions where invoiced_at < $as_of",
        {"as_of": as_of},
    ).fetchone()
    return int(row[0])


def training_data(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    feature_set: FeatureSet,
    as_of: date,
    config: TrainConfig,
) -> tuple[pd.DataFrame, Backtest | str]:
    """Today's feature rows (enough of them, or an error) and the backtest at the cutoff
    (or why it is skipped)."""
    frame = load_features(con, feature_set)
    history_days = (
        transaction_history_days(con, as_of)
        if feature_set.relation == "features.customer_features"
        else None
    )
    check_sufficiency(
        len(frame),
        history_days,
        min_customers=settings.min_customers,
        min_history_days=settings.min_history_days,
    )
    test = prepare_backtest(
        con,
        settings.sql_dir,
        relation=feature_set.relation,
        as_of=as_of,
        horizon_days=config.backtest_horizon_days,
        cutoff=config.backtest_cutoff,
        min_customers=settings.min_customers,
        min_history_days=settings.min_history_days,
        params=settings_feature_params(settings, as_of),
    )
    return frame, test


def train_challenger(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str,
    as_of: date,
    feature_set_name: str,
    config: TrainConfig,
) -> dict[str, Any]:
    """Fit candidates, backtest them, save the chosen one, promote it only if it is better."""
    feature_set = FEATURE_SETS[feature_set_name]
    frame, test = training_data(con, settings, feature_set, as_of, config)
    backtest = test if isinstance(test, Backtest) else None
    # One thread: scikit-learn's OpenMP and OpenBLAS pools oversubscribe small machines
    # (measured 8-10x slower with 2 threads on 2 cores); the setting lifts it on big ones.
    with threadpool_limits(settings.model_threads):
        result = fit_segmentation(
            frame,
            numeric=feature_set.numeric,
            skewed=feature_set.skewed,
            categorical=feature_set.categorical,
            config=config,
            business=backtest.score if backtest else None,
        )
    version = f"m{as_of:%Y%m%d}-{result.model.checksum[:8]}-{result.model.algorithm}"
    chosen = result.candidates[result.candidates["chosen"]].iloc[0].to_dict()
    champion = current_champion(con)
    with threadpool_limits(settings.model_threads):
        promote, why, champion_bt = should_promote(
            result,
            champion,
            frame,
            feature_set_name,
            settings.seed,
            backtest=backtest,
            tolerance=config.promotion_tolerance,
        )
    catalog, identity = build_catalog(
        con, result.model, frame, result.labels, feature_set.columns, currency=settings.currency
    )
    record, rows = backtest_record(test, result.model, catalog, champion_bt)
    artifact = settings.models_dir / f"{version}.joblib"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    result.model.save(artifact)
    register_model(
        con,
        run_id=run_id,
        version=version,
        as_of=as_of,
        feature_set=feature_set_name,
        result=result,
        chosen=chosen,
        artifact=artifact,
        n_rows=len(frame),
        catalog=catalog,
        promote=promote,
        reason=f"{result.reason} | {why}",
        backtest=record,
        backtest_rows=rows,
    )
    return {
        "model_version": version,
        "k": result.model.k,
        "algorithm": result.model.algorithm,
        "promoted": promote,
        "promotion_reason": why,
        "selection_reason": result.reason,
        "elbow_k": result.elbow_k,
        "candidates": len(result.candidates),
        "silhouette": chosen.get("silhouette"),
        "stability": chosen.get("stability"),
        "identity": identity,
        "backtest": backtest_headline(record),
    }


def train_stage(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str,
    as_of: date,
    feature_set: str,
    retrain: RetrainMode,
    config: TrainConfig,
    monitor_reason: str | None = None,
) -> dict[str, Any]:
    """The train stage of a run: retrain when due (or asked), promote only a better model.

    monitor_reason: drift or decay seen by this run's monitoring stage (a reason for auto).
    """
    due, why = retrain_due(
        current_champion(con),
        retrain,
        feature_set,
        as_of,
        settings.retrain_every_days,
        monitor_reason,
    )
    details: dict[str, Any] = {"retrain_reason": why}
    if due:
        details.update(
            train_challenger(
                con,
                settings,
                run_id=run_id,
                as_of=as_of,
                feature_set_name=feature_set,
                config=config,
            )
        )
    details["trained"] = due
    return details
