"""Model stage: retrain when due, register, promote only a better model, score every customer."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
from prefect import task
from threadpoolctl import threadpool_limits

from segments.backtest import Backtest, prepare_backtest
from segments.catalog import build_catalog
from segments.db import connect
from segments.feature_sets import FEATURE_SETS, FeatureSet, settings_feature_params
from segments.models import SegmentModel, TrainConfig, check_sufficiency
from segments.models.train import train
from segments.promotion import backtest_headline, backtest_record, should_promote
from segments.registry import Champion, current_champion, register_model, rollback_model
from segments.runs import stage
from segments.settings import Settings

RetrainMode = Literal["auto", "always", "never"]


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


def retrain_due(
    champion: Champion | None, mode: RetrainMode, feature_set: str, as_of: date, max_age_days: int
) -> tuple[bool, str]:
    """Whether this run trains, and why (recorded in the run's details)."""
    if mode == "always":
        return True, "retrain=always"
    if champion is None:
        if mode == "never":
            raise RuntimeError(
                "retrain=never but no champion model exists yet; run once with "
                "retrain=auto or always"
            )
        return True, "no champion model yet"
    if mode == "never":
        return False, "retrain=never"
    if champion.feature_set != feature_set:
        return True, f"feature set changed ({champion.feature_set} -> {feature_set})"
    age = (as_of - champion.trained_at.date()).days
    if age >= max_age_days:
        return True, f"champion is {age} days old (retrain every {max_age_days})"
    return False, f"champion {champion.model_version} is {age} days old; not due"


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
    backtest = test if isinstance(test, Backtest) else None
    # One thread: scikit-learn's OpenMP and OpenBLAS pools oversubscribe small machines
    # (measured 8-10x slower with 2 threads on 2 cores); the setting lifts it on big ones.
    with threadpool_limits(settings.model_threads):
        result = train(
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
    catalog, identity = build_catalog(con, result.model, frame, result.labels, feature_set.columns)
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


def score_customers(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    as_of: date,
    feature_set_name: str,
    threads: int = 1,
) -> dict[str, Any]:
    """Assign every customer of the feature table a segment with the champion model."""
    champion = current_champion(con)
    if champion is None:
        raise RuntimeError("no champion model to score with; run with retrain=auto first")
    model = SegmentModel.load(champion.artifact_path)
    frame = load_features(con, FEATURE_SETS[champion.feature_set])
    with threadpool_limits(threads):
        labels = model.predict(frame)
    catalog = con.execute(
        "select segment_id, segment_name from ops.segment_catalog "
        "where model_version = $v order by segment_id",
        {"v": champion.model_version},
    ).df()
    ids = model.metadata.get("segment_ids") or list(range(model.k))
    scores = pd.DataFrame(
        {"customer_id": frame["customer_id"], "segment_id": np.asarray(ids)[labels]}
    )
    scores = scores.merge(catalog, on="segment_id", how="left")
    con.execute("delete from ops.scores where run_id = $r", {"r": run_id})
    con.register("_scores", scores)
    con.execute(
        "insert into ops.scores select $r, $as_of, customer_id, segment_id, "
        "segment_name, $v from _scores",
        {"r": run_id, "as_of": as_of, "v": champion.model_version},
    )
    con.unregister("_scores")
    sizes = scores["segment_name"].value_counts().sort_index().to_dict()
    return {
        "model_version": champion.model_version,
        "customers": len(scores),
        "segments": {str(k): int(v) for k, v in sizes.items()},
    }


@task(name="fit_candidates")
def fit_candidates(
    settings: Settings,
    run_id: str,
    as_of: date,
    feature_set: str,
    retrain: RetrainMode,
    config: TrainConfig,
) -> dict[str, Any]:
    """Retrain when due (or asked) and promote only a better model."""
    with stage(settings, run_id, "train", as_of=as_of) as details, connect(settings) as con:
        due, why = retrain_due(
            current_champion(con), retrain, feature_set, as_of, settings.retrain_every_days
        )
        details["retrain_reason"] = why
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


@task(name="score_customers")
def score_customers_task(
    settings: Settings, run_id: str, as_of: date, feature_set: str
) -> dict[str, Any]:
    """Score every customer with the champion."""
    with stage(settings, run_id, "score", as_of=as_of) as details, connect(settings) as con:
        details.update(
            score_customers(
                con,
                run_id=run_id,
                as_of=as_of,
                feature_set_name=feature_set,
                threads=settings.model_threads,
            )
        )
    return details


@task(name="rollback_model")
def rollback_model_task(settings: Settings, model_version: str) -> dict[str, Any]:
    """Roll the champion back to an earlier version."""
    with connect(settings) as con:
        return rollback_model(con, model_version)
