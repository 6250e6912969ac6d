"""Training a challenger: when it is due, choosing it by an out-of-time backtest (or by
internal indices when no backtest is possible), registering it, and promoting it only when
it wins the promotion rule or the caller asks for it."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date
from typing import Any

import duckdb
import pandas as pd
from threadpoolctl import threadpool_limits

from segments.features import FEATURE_SETS, FeatureSet, settings_feature_params
from segments.lifecycle.catalog import build_catalog
from segments.lifecycle.evaluation import backtest_headline, backtest_record
from segments.lifecycle.promotion import should_promote
from segments.lifecycle.registry import current_champion, register_model
from segments.lifecycle.retrain import RetrainMode, retrain_due
from segments.lifecycle.sample import TrainingRows
from segments.lifecycle.snapshots import BacktestData, prepare_backtest
from segments.models import (
    VALUE_COLUMNS,
    TrainConfig,
    check_sufficiency,
    data_checksum,
    embed_model,
    fit_segmentation,
    select_by_backtest,
    with_value_columns,
)
from segments.settings import Settings

PURCHASES = "features.customer_features"  # the relation with a purchase history
CLV = "features.customer_clv"
CLV_INPUTS = ("p_alive", "expected_purchases_horizon", "expected_avg_value")


def load_features(
    con: duckdb.DuckDBPyConnection, feature_set: FeatureSet, rows: TrainingRows | None = None
) -> pd.DataFrame:
    """The feature rows a model sees (+ the lifetime-value columns), ordered by their values
    (then id) so fits reproduce; `rows`: a training's rows (lifecycle/sample.py), else all.

    Customer ids are pseudonyms whose order changes with SEGMENTS_PII_KEY; ordering by the
    features makes every fit and sampled metric downstream a function of the data alone.
    """
    keys = ", ".join([*feature_set.columns, "customer_id"])
    if rows is None:
        frame = con.execute(f"select * from {feature_set.relation} order by {keys}").df()
    else:
        source, params = rows.source(feature_set.relation)
        where, drawn = rows.where(con, feature_set.relation)
        frame = con.execute(
            f"select * from {source} {where} order by {keys}", {**params, **drawn}
        ).df()
    if feature_set.relation != PURCHASES:
        return frame
    if rows is not None and rows.files.get(CLV):  # the buckets' values of this run's as_of
        source, params = rows.source(CLV)
        clv = con.execute(
            f"select customer_id, {', '.join(CLV_INPUTS)} from {source}", params
        ).df()
        return with_value_columns(frame, clv)
    clv = con.execute(
        "select customer_id, p_alive, expected_purchases_horizon, expected_avg_value "
        "from features.customer_clv where as_of = (select max(as_of) from "
        "features.customer_features)"
    ).df()
    return with_value_columns(frame, clv)


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
    files: dict[str, list[str]] | None = None,
) -> tuple[pd.DataFrame, BacktestData | str]:
    """Today's feature rows (enough of them, or an error) and the backtest snapshots (or
    why there is no backtest). `files`: the buckets' Parquet of the model inputs, read
    instead of the warehouse tables (the same rows, the same sample)."""
    rows = TrainingRows(settings.train_rows, settings.seed, files or {})
    frame = load_features(con, feature_set, rows)
    history_days = (
        transaction_history_days(con, as_of) if feature_set.relation == PURCHASES else None
    )
    check_sufficiency(
        len(frame),
        history_days,
        min_customers=settings.min_customers,
        min_history_days=settings.min_history_days,
    )
    data = prepare_backtest(
        con,
        settings,
        relation=feature_set.relation,
        now=frame,
        as_of=as_of,
        horizon_days=config.backtest_horizon_days,
        cutoff=config.backtest_cutoff,
        params=settings_feature_params(settings, as_of),
        folds=config.backtest_folds,
        pool_windows=config.pool_windows,
    )
    return frame, data


def fit_challenger(
    frame: pd.DataFrame, data: BacktestData | str, feature_set: FeatureSet, config: TrainConfig
) -> Any:
    """The challenger: chosen out of time when a backtest is possible, else geometrically."""
    lists = {
        "numeric": feature_set.numeric,
        "skewed": feature_set.skewed,
        "categorical": feature_set.categorical,
    }
    if isinstance(data, BacktestData):
        cols = ["customer_id", *feature_set.columns, *[c for c in VALUE_COLUMNS if c in frame]]
        return select_by_backtest(
            data.inputs,
            config=config,
            checksum=data_checksum(frame, cols),
            baseline=data.baseline,
            **lists,
        )
    return fit_segmentation(frame, config=config, **lists)


class _Clock:
    """Wall and CPU seconds of the parts of a training (CPU: this process, all threads)."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[str, float]] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self._start = (self._wall, self._cpu)

    def lap(self, name: str) -> dict[str, dict[str, float]]:
        wall, cpu = time.perf_counter(), time.process_time()
        self.parts[name] = {"wall": round(wall - self._wall, 2), "cpu": round(cpu - self._cpu, 2)}
        self.parts["total"] = {
            "wall": round(wall - self._start[0], 2),
            "cpu": round(cpu - self._start[1], 2),
        }
        self._wall, self._cpu = wall, cpu
        return self.parts


def model_version(as_of: date, model: Any) -> str:
    """m<as_of>-<data checksum>-<algorithm>-<recipe hash>: one name per data and recipe."""
    recipe = json.dumps(model.metadata.get("recipe") or model.params, sort_keys=True, default=str)
    digest = hashlib.sha1(recipe.encode()).hexdigest()[:6]
    return f"m{as_of:%Y%m%d}-{model.checksum[:8]}-{model.algorithm}-{digest}"


def train_challenger(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str,
    as_of: date,
    feature_set_name: str,
    config: TrainConfig,
    promote: bool = False,
    files: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Choose and save a challenger; it becomes champion only by the promotion rule or when
    `promote` asks for it."""
    feature_set = FEATURE_SETS[feature_set_name]
    clock = _Clock()
    frame, data = training_data(con, settings, feature_set, as_of, config, files)
    clock.lap("snapshots")
    # One thread: scikit-learn's OpenMP and OpenBLAS pools oversubscribe small machines
    # (measured 8-10x slower with 2 threads on 2 cores); the setting lifts it on big ones.
    with threadpool_limits(settings.model_threads):
        result = fit_challenger(frame, data, feature_set, config)
        clock.lap("fit_and_select")
        decision = should_promote(
            result,
            current_champion(con),
            feature_set=feature_set_name,
            frame=frame,
            data=data,
            config=config,
            seed=settings.seed,
            force=promote,
        )
        clock.lap("promotion")
        embedding = embed_model(result.model, frame, result.labels, seed=settings.seed)
        clock.lap("embedding")
    version = model_version(as_of, result.model)
    chosen = result.candidates[result.candidates["chosen"]].iloc[0].to_dict()
    catalog, identity = build_catalog(
        con, result.model, frame, result.labels, feature_set.columns, currency=settings.currency
    )
    record, rows = backtest_record(data, result, catalog, decision)
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
        promote=decision.promote,
        reason=f"{result.reason} | {decision.reason}",
        backtest=record,
        backtest_rows=rows,
        embedding=embedding,
    )
    return {
        "model_version": version,
        "k": result.model.k,
        "algorithm": result.model.algorithm,
        "recipe": chosen.get("candidate") or f"{result.model.algorithm} k={result.model.k}",
        "promoted": decision.promote,
        "kept_back": decision.kept_back,
        "promotion_reason": decision.reason,
        "selection_reason": result.reason,
        "selection_mode": result.model.metadata.get("selection_mode"),
        "elbow_k": result.elbow_k,
        "candidates": len(result.candidates),
        "objective": chosen.get("objective"),
        "fold_objectives": chosen.get("fold_objectives"),
        "silhouette": chosen.get("silhouette"),
        "stability": chosen.get("stability"),
        "identity": identity,
        "backtest": backtest_headline(record),
        "seconds": clock.lap("register"),
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
    promote: bool = False,
    files: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The train stage of a run: retrain when due (or asked), promote only by the rule or
    on request.

    monitor_reason: drift or decay seen by this run's monitoring stage (a reason for auto).
    files: the model inputs on the customer buckets (a partitioned run) to train from.
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
                promote=promote,
                files=files,
            )
        )
    details["trained"] = due
    return details
