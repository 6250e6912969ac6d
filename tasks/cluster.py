"""Model stage: retrain when due, register, promote only a better model, score every customer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
from prefect import task
from threadpoolctl import threadpool_limits

from segments.backtest import Backtest, backtest_rows, prepare_backtest
from segments.catalog import build_catalog
from segments.db import connect
from segments.feature_sets import FEATURE_SETS, FeatureSet
from segments.models import SegmentModel, TrainConfig, check_sufficiency
from segments.models.train import train
from segments.runs import stage
from segments.settings import Settings

RetrainMode = Literal["auto", "always", "never"]


@dataclass
class Champion:
    model_version: str
    feature_set: str
    trained_at: datetime
    artifact_path: Path
    k: int


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def load_features(con: duckdb.DuckDBPyConnection, feature_set: FeatureSet) -> pd.DataFrame:
    """The feature rows a model sees, in customer order so fits are reproducible."""
    return con.execute(f"select * from {feature_set.relation} order by customer_id").df()


def transaction_history_days(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """Days of transaction history before as_of (0 when there is none)."""
    row = con.execute(
        "select coalesce(datediff('day', min(invoiced_at), $as_of::timestamp), 0) "
        "from staging.stg_transactions where invoiced_at < $as_of",
        {"as_of": as_of},
    ).fetchone()
    return int(row[0])


def current_champion(con: duckdb.DuckDBPyConnection) -> Champion | None:
    row = con.execute(
        "select model_version, feature_set, trained_at, artifact_path, k from ops.model_registry "
        "where status = 'champion' order by promoted_at desc limit 1"
    ).fetchone()
    return Champion(row[0], row[1], row[2], Path(row[3]), row[4]) if row else None


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


def quality_on(
    model: SegmentModel, frame: pd.DataFrame, seed: int, sample: int = 10_000
) -> dict[str, float]:
    """Silhouette and Davies-Bouldin of a model's assignment of these rows, in its own space."""
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    X = model.transform(frame)
    labels = model.predict(frame)
    if len(np.unique(labels)) < 2:
        return {"silhouette": -1.0, "davies_bouldin": float("inf")}
    size = min(sample, len(X))
    return {
        "silhouette": float(silhouette_score(X, labels, sample_size=size, random_state=seed)),
        "davies_bouldin": float(davies_bouldin_score(X, labels)),
    }


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
        promote, why, champion_bt = _should_promote(
            result,
            champion,
            frame,
            feature_set_name,
            settings.seed,
            backtest=backtest,
            tolerance=config.promotion_tolerance,
        )
    catalog, identity = build_catalog(con, result.model, frame, result.labels, feature_set.columns)
    record, rows = _backtest_record(test, result.model, catalog, champion_bt)
    artifact = settings.models_dir / f"{version}.joblib"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    result.model.save(artifact)
    _register(
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
        "backtest": _short(record),
    }


def _backtest_record(
    test: Backtest | str,
    model: SegmentModel,
    catalog: pd.DataFrame,
    champion: dict[str, Any] | None,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The registry JSON and the ops.backtests rows (model, then RFM baseline) of a backtest."""
    if isinstance(test, str):
        return {"status": "skipped", "reason": test}, None
    per, summary = test.run(model)
    ids = model.metadata.get("segment_ids") or list(range(model.k))
    names = dict(zip(catalog["segment_id"], catalog["segment_name"], strict=True))
    rows = [
        backtest_rows(
            per,
            summary,
            segment_ids=dict(enumerate(ids)),
            segment_names={i: names[s] for i, s in enumerate(ids)},
        ).assign(method="model")
    ]
    record: dict[str, Any] = {
        "status": "ok",
        "cutoff": test.cutoff.isoformat(),
        "horizon_days": test.horizon_days,
        "model": summary,
    }
    if test.baseline is not None and test.baseline_segments is not None:
        rows.append(
            backtest_rows(test.baseline_segments, test.baseline).assign(method="rfm_baseline")
        )
        record["rfm_baseline"] = test.baseline
        record["beats_baseline"] = (
            summary["explained_variance"] > test.baseline["explained_variance"]
            and summary["retention_spread"] > test.baseline["retention_spread"]
        )
    if champion is not None:
        record["champion"] = champion
    return record, pd.concat(rows, ignore_index=True).assign(
        cutoff=test.cutoff, horizon_days=test.horizon_days
    )


def _short(record: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a backtest record, for the run's details."""
    if record["status"] != "ok":
        return record
    keys = ("explained_variance", "retention_spread")
    out: dict[str, Any] = {
        "cutoff": record["cutoff"],
        "model": {k: round(record["model"][k], 4) for k in keys},
    }
    if "rfm_baseline" in record:
        out["rfm_baseline"] = {k: round(record["rfm_baseline"][k], 4) for k in keys}
        out["beats_baseline"] = record["beats_baseline"]
    return out


def _should_promote(
    result: Any,
    champion: Champion | None,
    frame: pd.DataFrame,
    feature_set: str,
    seed: int,
    *,
    backtest: Backtest | None = None,
    tolerance: float = 0.01,
) -> tuple[bool, str, dict[str, Any] | None]:
    """A challenger replaces the champion only when it passes the gates and is not worse.

    Not worse means both: quality on the current features (silhouette, or Davies-Bouldin
    with silhouette within 0.02) and, when a backtest ran, explained variance and retention
    spread at the same cutoff each within `tolerance` of the champion's. Returns the
    decision, the reason, and the champion's backtest summary (None when not computed).
    """
    if champion is None:
        return True, "first model: promoted", None
    if not result.passed_gates:
        return False, "challenger failed the selection gates: champion kept", None
    if champion.feature_set != feature_set:
        return True, "feature set changed: promoted", None
    old_model = SegmentModel.load(champion.artifact_path)
    old = quality_on(old_model, frame, seed)
    new = quality_on(result.model, frame, seed)
    better = new["silhouette"] >= old["silhouette"] - 1e-9 or (
        new["davies_bouldin"] <= old["davies_bouldin"]
        and new["silhouette"] >= old["silhouette"] - 0.02
    )
    detail = (
        f"silhouette {new['silhouette']:.3f} vs champion {old['silhouette']:.3f}, "
        f"Davies-Bouldin {new['davies_bouldin']:.3f} vs {old['davies_bouldin']:.3f}"
    )
    champion_bt = None
    if backtest is not None:
        champion_bt = backtest.run(old_model)[1]
        mine = backtest.run(result.model)[1]
        worse = [
            key.replace("_", " ")
            for key in ("explained_variance", "retention_spread")
            if mine[key] < champion_bt[key] - tolerance
        ]
        better = better and not worse
        detail += (
            f"; backtest at {backtest.cutoff}: explained variance "
            f"{mine['explained_variance']:.3f} vs {champion_bt['explained_variance']:.3f}"
            f", retention spread {mine['retention_spread']:.3f} vs "
            f"{champion_bt['retention_spread']:.3f}"
        )
        if worse:
            detail += f" (worse on {' and '.join(worse)} by more than {tolerance:g})"
    return (
        better,
        (
            f"promoted: not worse than champion ({detail})"
            if better
            else f"champion kept: challenger worse ({detail})"
        ),
        champion_bt,
    )


def _register(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    version: str,
    as_of: date,
    feature_set: str,
    result: Any,
    chosen: dict,
    artifact: Path,
    n_rows: int,
    catalog: pd.DataFrame,
    promote: bool,
    reason: str,
    backtest: dict[str, Any] | None = None,
    backtest_rows: pd.DataFrame | None = None,
) -> None:
    """Write the version, its candidates, catalog and backtest in one transaction."""
    now = _now()
    metrics = {
        k: chosen.get(k)
        for k in (
            "silhouette",
            "davies_bouldin",
            "calinski_harabasz",
            "wcss",
            "bic",
            "noise_share",
            "smallest_share",
            "stability",
        )
    }
    con.execute("begin transaction")
    try:
        if promote:
            con.execute(
                "update ops.model_registry set status = 'retired' where status = 'champion'"
            )
        con.execute(
            "insert or replace into ops.model_registry values ($v, $now, $run, $as_of, $fs, $alg, "
            "$params, $k, $metrics, $backtest, $rows, $checksum, $path, $status, $reason, $promoted)",
            {
                "v": version,
                "now": now,
                "run": run_id,
                "as_of": as_of,
                "fs": feature_set,
                "alg": result.model.algorithm,
                "params": json.dumps(result.model.params, default=str),
                "k": result.model.k,
                "metrics": json.dumps(metrics, default=float),
                "backtest": json.dumps(backtest, default=str) if backtest else None,
                "rows": n_rows,
                "checksum": result.model.checksum,
                "path": str(artifact),
                "status": "champion" if promote else "challenger",
                "reason": reason,
                "promoted": now if promote else None,
            },
        )
        candidates = result.candidates.assign(
            run_id=run_id, model_version=version, recorded_at=now
        )
        candidates["params"] = candidates["params"].map(
            lambda p: p if isinstance(p, str) else json.dumps(p, default=str)
        )
        columns = [r[0] for r in con.execute("describe ops.model_candidates").fetchall()]
        con.register("_candidates", candidates[[c for c in columns if c in candidates]])
        con.execute("insert into ops.model_candidates by name select * from _candidates")
        con.unregister("_candidates")
        con.execute("delete from ops.segment_catalog where model_version = $v", {"v": version})
        con.register("_catalog", catalog.assign(model_version=version))
        con.execute(
            "insert into ops.segment_catalog by name select model_version, segment_id, "
            "segment_name, description, action, centroid from _catalog"
        )
        con.unregister("_catalog")
        con.execute("delete from ops.backtests where model_version = $v", {"v": version})
        if backtest_rows is not None:
            con.register(
                "_backtests",
                backtest_rows.assign(model_version=version, run_id=run_id, recorded_at=now),
            )
            con.execute("insert into ops.backtests by name select * from _backtests")
            con.unregister("_backtests")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


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


def rollback_model(con: duckdb.DuckDBPyConnection, model_version: str) -> dict[str, Any]:
    """Make a registered version champion again; scoring uses it from the next run."""
    row = con.execute(
        "select status, artifact_path from ops.model_registry where model_version = $v",
        {"v": model_version},
    ).fetchone()
    if row is None:
        known = [
            v
            for (v,) in con.execute(
                "select model_version from ops.model_registry order by trained_at desc"
            ).fetchall()
        ]
        raise ValueError(f"unknown model version {model_version!r}; registered: {known}")
    if not Path(row[1]).exists():
        raise FileNotFoundError(
            f"the artifact of {model_version} is gone ({row[1]}); it cannot score any more"
        )
    previous = current_champion(con)
    con.execute("begin transaction")
    con.execute("update ops.model_registry set status = 'retired' where status = 'champion'")
    con.execute(
        "update ops.model_registry set status = 'champion', promoted_at = $now, "
        "reason = coalesce(reason, '') || ' | rolled back to' where model_version = $v",
        {"v": model_version, "now": _now()},
    )
    con.execute("commit")
    return {
        "champion": model_version,
        "previous_champion": previous.model_version if previous else None,
    }


@task(name="rollback_model")
def rollback_model_task(settings: Settings, model_version: str) -> dict[str, Any]:
    """Roll the champion back to an earlier version."""
    with connect(settings) as con:
        return rollback_model(con, model_version)
