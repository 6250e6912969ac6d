"""The model stage on small synthetic data: backtest records, gates, promotion, rollback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from lifecycle_data import AS_OF, synthetic_lines

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.core.sql import apply_schema, run_layer, run_model
from segments.features.sets import FEATURE_SETS, feature_params
from segments.lifecycle.promotion import should_promote
from segments.lifecycle.registry import current_champion, rollback_model
from segments.lifecycle.score import score_customers
from segments.lifecycle.snapshots import BacktestData, prepare_backtest
from segments.lifecycle.train import load_features, train_challenger
from segments.models import InsufficientDataError, TrainConfig
from segments.settings import Settings
from tasks.cluster import fit_candidates

CONFIG = TrainConfig(k_min=3, k_max=5, n_init=2, bootstrap_rounds=2, threads=1)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One warehouse file with lines and features as of AS_OF, copied by each test."""
    home = tmp_path_factory.mktemp("template")
    settings = Settings(home=home)
    with connect(settings) as con:
        apply_schema(con, settings.sql_dir)
        run_model(con, settings.sql_dir, "staging", "stg_customers")
        con.register("_lines", synthetic_lines())
        con.execute("insert into staging.stg_transactions by name select * from _lines")
        con.unregister("_lines")
        run_layer(con, settings.sql_dir, "features", feature_params(AS_OF))
    return settings.warehouse_path


@pytest.fixture
def settings(template: Path, tmp_path: Path) -> Settings:
    """A fresh copy of the template warehouse, with thresholds this small data can meet."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(template, home / "warehouse.duckdb")
    return Settings(home=home, min_customers=30, min_history_days=60)


def _train(settings: Settings, config: TrainConfig = CONFIG, run_id: str = "r1") -> dict:
    with connect(settings) as con:
        return train_challenger(
            con, settings, run_id=run_id, as_of=AS_OF, feature_set_name="retail", config=config
        )


def test_backtest_is_recorded_for_the_model_and_its_peers(settings: Settings) -> None:
    result = _train(settings)
    assert result["promoted"] and result["backtest"]["cutoff"] == "2024-04-02"
    assert result["selection_mode"] == "out_of_time"
    with connect(settings) as con:
        record = json.loads(
            con.execute(
                "select backtest from ops.model_registry where model_version = $v",
                {"v": result["model_version"]},
            ).fetchone()[0]
        )
        rows = con.execute("select * from ops.backtests").df()
        candidates = con.execute("select * from ops.model_candidates").df()
        catalog = con.execute("select * from ops.segment_catalog").df()
        embedded = con.execute(
            "select method, count(*) from ops.model_embeddings group by 1 order by 1"
        ).fetchall()
        features_as_of = con.execute(
            "select distinct as_of from features.customer_features"
        ).fetchall()
    assert features_as_of == [(AS_OF,)]  # the cutoff features did not replace them
    assert record["status"] == "ok" and record["horizon_days"] == 90
    assert record["train_cutoff"] == "2024-01-03" and record["mode"] == "out_of_time"
    assert set(rows["method"]) == {"model", "rfm_baseline", "kmeans_log_rfm"}
    totals = rows[rows["segment_name"].isna()].set_index("method")
    assert totals.loc["model", "explained_variance"] == pytest.approx(
        record["model"]["explained_variance"]
    )
    assert totals.loc["kmeans_log_rfm", "k"] == result["k"]  # the peer at the same k
    assert totals["customers"].nunique() == 1  # every method on the same customers
    chosen = candidates[candidates["chosen"]].iloc[0]
    # ops.backtests is the newest window; the selection averaged it with the earlier ones
    newest = json.loads(chosen["fold_objectives"])
    assert list(newest) == ["2024-04-02", "2024-01-03", "2023-10-05"]
    assert totals.loc["model", "objective"] == pytest.approx(newest["2024-04-02"], abs=1e-5)
    # every window for the candidates that could reach the band, the newest for the pruned
    pruned = candidates["gate_failures"].fillna("").str.startswith("pruned after the newest")
    assert (candidates.loc[~pruned, "backtest_folds"].dropna() == 3).all()
    assert (candidates.loc[pruned, "backtest_folds"] == 1).all()
    assert not candidates.loc[pruned, "passed_gates"].any()
    band = candidates[candidates["in_band"]]
    assert len(band) and (chosen["in_band"] or band["gate_failures"].str.contains("stab").all())
    # the lapsed customers never come back: the segments separate retention clearly
    assert record["model"]["retention_spread"] > 0.5
    evaluated = candidates[candidates["objective"].notna()]
    assert set(evaluated["family"]) == {"cluster", "tree"}
    assert evaluated["backtest_eta2"].between(0, 1).all()
    assert (candidates["selection_mode"].dropna() == "out_of_time").all()
    assert len(catalog) == result["k"]
    if result["algorithm"] == "tree":
        assert catalog["rule"].notna().all()
    assert dict(embedded)["pca"] == 240 and 0 < dict(embedded)["tsne"] <= 240


def test_short_history_falls_back_to_internal_indices(settings: Settings) -> None:
    # ~540 days before as_of pass the gate; ~450 before the cutoff do not
    short = settings.model_copy(update={"min_history_days": 500})
    result = _train(short)
    assert result["backtest"]["status"] == "skipped"
    assert "days of history before the backtest cutoff" in result["backtest"]["reason"]
    assert result["selection_mode"] == "geometric"
    with connect(settings) as con:
        assert con.execute("select count(*) from ops.backtests").fetchone()[0] == 0
        status = con.execute("select status from ops.model_registry").fetchall()
    assert status == [("champion",)]


def test_trees_need_a_matured_horizon_before_the_cutoff(settings: Settings) -> None:
    # 457 days before the validation cutoff pass; 367 before the training cutoff do not
    result = _train(settings.model_copy(update={"min_history_days": 400}))
    assert result["selection_mode"] == "unsupervised_only"
    assert result["algorithm"] != "tree"
    assert "trees skipped" in result["selection_reason"]


def test_too_few_customers_fails_the_train_stage(settings: Settings) -> None:
    strict = settings.model_copy(update={"min_customers": 10_000})
    with pytest.raises(InsufficientDataError, match="Not enough data to segment"):
        ctx = RunContext(strict, "r-small", "nightly_segmentation", AS_OF)
        fit_candidates.fn(ctx, "retail", "always", CONFIG)
    with connect(settings) as con:
        status, message = con.execute(
            "select status, message from ops.runs where run_id = 'r-small' and stage = 'train'"
        ).fetchone()
        registered = con.execute("select count(*) from ops.model_registry").fetchone()[0]
    assert status == "failed" and "customers with features (need at least 10000)" in message
    assert registered == 0


def _backtest(settings: Settings) -> BacktestData:
    with connect(settings) as con:
        frame = load_features(con, FEATURE_SETS["retail"])
        data = prepare_backtest(
            con,
            settings,
            relation="features.customer_features",
            now=frame,
            as_of=AS_OF,
            horizon_days=90,
            folds=CONFIG.backtest_folds,
        )
    assert isinstance(data, BacktestData)
    return data


def _measured(trained: dict) -> float:
    """A trained model's objective as measured on its windows (before the level alignment)."""
    return float(np.mean(list(json.loads(trained["fold_objectives"]).values())))


def _challenger(objective: float, passed: bool = True) -> SimpleNamespace:
    candidates = pd.DataFrame({"chosen": [True], "objective": [objective]})
    return SimpleNamespace(passed_gates=passed, candidates=candidates, model=None)


def _decide(settings: Settings, challenger: SimpleNamespace, **kw):
    with connect(settings) as con:
        champion = current_champion(con)
    assert champion is not None
    options = {"feature_set": "retail", "frame": None, "data": _backtest(settings)}
    return should_promote(challenger, champion, config=CONFIG, seed=42, **{**options, **kw})


def test_a_challenger_worse_on_the_backtest_keeps_the_champion(settings: Settings) -> None:
    first = _train(settings)
    decision = _decide(settings, _challenger(_measured(first) - 0.05))
    assert not decision.promote and decision.reason.startswith("champion kept")
    assert "worse by more than 0.005" in decision.reason
    # the champion was judged by its recipe refitted at the cutoffs: what it scored when chosen
    assert decision.champion_scores["objective"] == pytest.approx(_measured(first))
    assert decision.champion_scores["fold_objectives"] == pytest.approx(
        json.loads(first["fold_objectives"]), abs=1e-5
    )
    assert "refitted at 2024-04-02" in decision.reason


def test_an_equal_challenger_replaces_the_champion(settings: Settings) -> None:
    first = _train(settings)
    decision = _decide(settings, _challenger(_measured(first)))
    assert decision.promote and decision.reason.startswith("promoted: not worse")
    assert not _decide(settings, _challenger(1.0, passed=False)).promote


def test_asking_to_promote_overrides_the_rule_and_says_so(settings: Settings) -> None:
    first = _train(settings)
    decision = _decide(settings, _challenger(_measured(first) - 0.05), force=True)
    assert decision.promote
    assert decision.reason.startswith("promoted on request")
    assert "the rule alone would have kept the champion" in decision.reason


def test_another_feature_set_without_a_backtest_keeps_the_champion(settings: Settings) -> None:
    _train(settings)
    decision = _decide(
        settings, _challenger(0.0), feature_set="retail_web", data="backtest disabled"
    )
    assert not decision.promote and "pass --promote" in decision.reason


def test_a_kept_back_challenger_is_reported(settings: Settings) -> None:
    from segments.lifecycle import kept_back

    _train(settings)
    with connect(settings) as con:
        assert kept_back(con) is None
    worse = CONFIG.model_copy(update={"recipes": [], "k_min": 3, "k_max": 3})
    second = _train(settings, worse, "r2")
    with connect(settings) as con:
        line = kept_back(con)
    if second["promoted"]:
        pytest.skip("k=3 on the feature set happened to be as good")
    assert line.startswith(f"challenger {second['model_version']} (as of {AS_OF}) kept back")
    assert "worse by more than" in line


def test_rollback_restores_an_earlier_version_for_scoring(settings: Settings) -> None:
    first = _train(settings)
    second = _train(
        settings, CONFIG.model_copy(update={"algorithms": ["gmm"], "recipes": []}), "r2"
    )
    assert first["model_version"] != second["model_version"]
    with connect(settings) as con:
        con.execute("update ops.model_registry set status = 'retired'")
        con.execute(
            "update ops.model_registry set status = 'champion', promoted_at = now() "
            "where model_version = $v",
            {"v": second["model_version"]},
        )
        out = rollback_model(con, first["model_version"])
        statuses = dict(
            con.execute("select model_version, status from ops.model_registry").fetchall()
        )
        scored = score_customers(con, run_id="r3", as_of=AS_OF, feature_set_name="retail")
        with pytest.raises(ValueError, match="unknown model version"):
            rollback_model(con, "m-nope")
        (settings.models_dir / f"{second['model_version']}.joblib").unlink()
        with pytest.raises(FileNotFoundError, match="artifact"):
            rollback_model(con, second["model_version"])
    assert out == {
        "champion": first["model_version"],
        "previous_champion": second["model_version"],
    }
    assert statuses == {first["model_version"]: "champion", second["model_version"]: "retired"}
    assert scored["model_version"] == first["model_version"]
