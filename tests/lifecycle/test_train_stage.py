"""The model stage on small synthetic data: backtest records, gates, promotion, rollback."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.core.sql import apply_schema, run_layer, run_model
from segments.features.sets import FEATURE_SETS, feature_params
from segments.lifecycle.backtest import Backtest, prepare_backtest
from segments.lifecycle.promotion import should_promote
from segments.lifecycle.registry import current_champion, rollback_model
from segments.lifecycle.score import score_customers
from segments.lifecycle.train import load_features, train_challenger
from segments.models import InsufficientDataError, TrainConfig
from segments.settings import Settings
from tasks.cluster import fit_candidates

AS_OF = date(2024, 7, 1)
START = date(2023, 1, 1)
CONFIG = TrainConfig(k_min=3, k_max=5, n_init=2, bootstrap_rounds=2, threads=1)


def synthetic_lines(seed: int = 0) -> pd.DataFrame:
    """Three behaviours: loyal (every ~2 weeks), occasional big orders, lapsed after a year."""
    rng = np.random.default_rng(seed)
    rows = []
    kinds = [("loyal", 14, 40.0, None), ("big", 60, 300.0, None), ("lapsed", 30, 80.0, 365)]
    for kind, gap, value, stop in kinds:
        for c in range(80):
            day = int(rng.integers(0, 60))
            last = (AS_OF - START).days if stop is None else stop
            n = 0
            while day < last:
                n += 1
                rows.append(
                    {
                        "customer_id": f"{kind}{c:03d}",
                        "invoice_id": f"{kind}{c:03d}-{n}",
                        "invoiced_at": pd.Timestamp(START + timedelta(days=day))
                        + pd.Timedelta("10h"),
                        "quantity": int(rng.integers(1, 4)),
                        "unit_price": float(value * rng.uniform(0.5, 1.5)),
                    }
                )
                day += max(1, int(rng.exponential(gap)))
    frame = pd.DataFrame(rows)
    return frame.assign(
        source="t",
        load_id="l",
        line_number=np.arange(1, len(frame) + 1),
        product_code="P1",
        country="UK",
        is_cancellation=False,
        line_revenue=frame["quantity"] * frame["unit_price"],
    )


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


def test_backtest_is_recorded_for_the_model_and_the_rfm_baseline(settings: Settings) -> None:
    result = _train(settings)
    assert result["promoted"] and result["backtest"]["cutoff"] == "2024-04-02"
    with connect(settings) as con:
        record = json.loads(
            con.execute(
                "select backtest from ops.model_registry where model_version = $v",
                {"v": result["model_version"]},
            ).fetchone()[0]
        )
        rows = con.execute("select * from ops.backtests").df()
        candidates = con.execute("select * from ops.model_candidates").df()
        features_as_of = con.execute(
            "select distinct as_of from features.customer_features"
        ).fetchall()
    assert features_as_of == [(AS_OF,)]  # the cutoff features did not replace them
    assert record["status"] == "ok" and record["horizon_days"] == 90
    assert set(rows["method"]) == {"model", "rfm_baseline"}
    model = rows[rows["method"] == "model"]
    totals = rows[rows["segment_name"].isna()].set_index("method")
    assert len(model) == result["k"] + 1  # one row per segment plus the total
    assert model["segment_id"].notna().sum() == result["k"]
    assert totals.loc["model", "explained_variance"] == pytest.approx(
        record["model"]["explained_variance"]
    )
    assert totals.loc["rfm_baseline", "retention_spread"] == pytest.approx(
        record["rfm_baseline"]["retention_spread"]
    )
    # the lapsed customers never come back: the segments separate retention clearly
    assert record["model"]["retention_spread"] > 0.5
    passing = candidates[candidates["passed_gates"]]
    assert passing["business_score"].notna().all()
    assert candidates.loc[~candidates["passed_gates"], "business_score"].isna().all()


def test_short_history_skips_the_backtest_with_a_reason(settings: Settings) -> None:
    # ~540 days before as_of pass the gate; ~450 before the cutoff do not
    short = settings.model_copy(update={"min_history_days": 500})
    result = _train(short)
    assert result["backtest"]["status"] == "skipped"
    assert "days of history before the backtest cutoff" in result["backtest"]["reason"]
    with connect(settings) as con:
        assert con.execute("select count(*) from ops.backtests").fetchone()[0] == 0
        status = con.execute("select status from ops.model_registry").fetchall()
    assert status == [("champion",)]


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


class ShuffledModel:
    """A challenger that looks perfect in its own space but assigns segments at random."""

    def __init__(self, k: int, seed: int = 1) -> None:
        self.k, self.seed = k, seed

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return rng.integers(0, self.k, size=len(frame))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        labels = self.predict(frame)
        return np.eye(self.k)[labels] * 10.0  # tight, far apart: silhouette 1


def _backtest(settings: Settings) -> Backtest:
    with connect(settings) as con:
        test = prepare_backtest(
            con,
            settings.sql_dir,
            relation="features.customer_features",
            as_of=AS_OF,
            horizon_days=90,
            min_customers=30,
            min_history_days=60,
        )
    assert isinstance(test, Backtest)
    return test


def test_a_challenger_worse_on_the_backtest_keeps_the_champion(settings: Settings) -> None:
    _train(settings)
    with connect(settings) as con:
        champion = current_champion(con)
        frame = load_features(con, FEATURE_SETS["retail"])
    assert champion is not None
    challenger = SimpleNamespace(passed_gates=True, model=ShuffledModel(champion.k))
    keep, why, old = should_promote(
        challenger, champion, frame, "retail", 42, backtest=_backtest(settings)
    )
    assert not keep and why.startswith("champion kept")
    assert "worse on explained variance and retention spread" in why
    assert old is not None and old["explained_variance"] > 0.2


def test_an_equal_challenger_replaces_the_champion(settings: Settings) -> None:
    _train(settings)
    with connect(settings) as con:
        champion = current_champion(con)
        frame = load_features(con, FEATURE_SETS["retail"])
    assert champion is not None
    from segments.models import SegmentModel

    same = SimpleNamespace(passed_gates=True, model=SegmentModel.load(champion.artifact_path))
    promote, why, _ = should_promote(
        same, champion, frame, "retail", 42, backtest=_backtest(settings)
    )
    assert promote and why.startswith("promoted: not worse") and "backtest at 2024-04-02" in why
    failed = SimpleNamespace(passed_gates=False, model=same.model)
    assert not should_promote(failed, champion, frame, "retail", 42)[0]


def test_rollback_restores_an_earlier_version_for_scoring(settings: Settings) -> None:
    first = _train(settings)
    second = _train(settings, CONFIG.model_copy(update={"algorithms": ["gmm"]}), "r2")
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
