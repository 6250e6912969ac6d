"""The backtest never sees a line at or after its cutoff's horizon end: lines added there
(big orders of known customers, new customers, one exactly on the end instant) change
nothing it measures, nor the model a run trains."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifecycle_data import AS_OF, synthetic_lines

from segments.core.db import connect
from segments.core.sql import apply_schema, run_layer, run_model
from segments.features import FEATURE_SETS, feature_params
from segments.lifecycle.snapshots import prepare_backtest, snapshot
from segments.lifecycle.train import load_features, train_challenger
from segments.models import TrainConfig
from segments.settings import Settings

# pool_windows: the supervised recipes learn from every matured window (pooled), so the
# pooled training is what is checked here
CONFIG = TrainConfig(k_min=3, k_max=4, n_init=2, bootstrap_rounds=2, threads=1, pool_windows=4)
C1 = AS_OF - timedelta(days=90)
C2 = C1 - timedelta(days=90)
# every cutoff a backtest of CONFIG.backtest_folds windows reads: validation cutoffs C1,
# C1 - 90, ... and, one horizon before the oldest, where its trees learn
CUTOFFS = [C1 - timedelta(days=90 * j) for j in range(CONFIG.backtest_folds + 1)]


def later_lines(start: date, seed: int = 9) -> pd.DataFrame:
    """Lines on and after `start`: known and new customers, the first at 00:00 exactly."""
    rng = np.random.default_rng(seed)
    customers = [f"loyal{c:03d}" for c in range(0, 80, 3)] + [f"new{c:03d}" for c in range(30)]
    rows = []
    for i, customer in enumerate(customers):
        at = datetime.combine(start, datetime.min.time()) + timedelta(
            days=0 if i == 0 else int(rng.integers(0, 60)), hours=0 if i == 0 else 11
        )
        rows.append(
            {
                "customer_id": customer,
                "invoice_id": f"late-{i}",
                "invoiced_at": pd.Timestamp(at),
                "quantity": 3,
                "unit_price": 5_000.0,
            }
        )
    frame = pd.DataFrame(rows)
    return frame.assign(
        source="t",
        load_id="late",
        line_number=np.arange(10_001, 10_001 + len(frame)),
        product_code="P9",
        country="UK",
        is_cancellation=False,
        line_revenue=frame["quantity"] * frame["unit_price"],
    )


def warehouse(home: Path, extra: pd.DataFrame | None = None) -> Settings:
    settings = Settings(home=home, min_customers=30, min_history_days=60)
    lines = synthetic_lines() if extra is None else pd.concat([synthetic_lines(), extra])
    with connect(settings) as con:
        apply_schema(con, settings.sql_dir)
        run_model(con, settings.sql_dir, "staging", "stg_customers")
        con.register("_lines", lines)
        con.execute("insert into staging.stg_transactions by name select * from _lines")
        con.unregister("_lines")
        run_layer(con, settings.sql_dir, "features", feature_params(AS_OF))
    return settings


def _snapshot(settings: Settings, cutoff: date):
    with connect(settings) as con:
        return snapshot(
            con, settings, "features.customer_features", cutoff, 90, feature_params(AS_OF)
        )


def _same(x, y) -> None:
    """Equal up to the last bits DuckDB's parallel sums may change between warehouses."""
    pd.testing.assert_frame_equal(x.frame, y.frame, rtol=1e-9)
    np.testing.assert_allclose(x.y, y.y, rtol=1e-9)
    assert (x.retained == y.retained).all()


def _members(snap) -> list[str]:
    """The cutoffs of the windows a (pooled) training snapshot stacks, newest first."""
    parts = (
        snap.label.split(": ", 1)[1].split("; ") if snap.label.startswith("pool") else [snap.label]
    )
    return [part.split(" ")[0] for part in parts]


def _same_snapshot(a, b) -> None:
    _same(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1], rtol=1e-9)


@pytest.mark.parametrize("cutoff", CUTOFFS[1:], ids=str)
def test_a_snapshot_ignores_lines_from_its_horizon_end_on(tmp_path: Path, cutoff: date) -> None:
    end = cutoff + timedelta(days=90)  # the next cutoff: this snapshot's horizon end
    base = warehouse(tmp_path / "base")
    later = warehouse(tmp_path / "later", later_lines(end))
    _same_snapshot(_snapshot(base, cutoff), _snapshot(later, cutoff))
    # ... while the next window does see them (the test data can tell)
    assert (
        not _snapshot(base, end)[0].frame.equals(_snapshot(later, end)[0].frame)
        or not (_snapshot(base, end)[0].y == _snapshot(later, end)[0].y).all()
    )


def test_training_never_reads_a_line_at_or_after_as_of(tmp_path: Path) -> None:
    base = warehouse(tmp_path / "base")
    later = warehouse(tmp_path / "later", later_lines(AS_OF))
    with connect(base) as a, connect(later) as b:
        now_a = load_features(a, FEATURE_SETS["retail"])
        now_b = load_features(b, FEATURE_SETS["retail"])
        pd.testing.assert_frame_equal(now_a, now_b, rtol=1e-9)
        data = [
            prepare_backtest(
                con,
                s,
                relation="features.customer_features",
                now=now,
                as_of=AS_OF,
                horizon_days=90,
                folds=CONFIG.backtest_folds,
                pool_windows=CONFIG.pool_windows,
            )
            for con, s, now in ((a, base, now_a), (b, later, now_b))
        ]
    # every window of the backtest is there and none sees a line at or after as_of
    folds = [d.inputs.folds for d in data]
    assert len(folds[0]) == len(folds[1]) == CONFIG.backtest_folds
    assert [v.label.split(" ")[0] for v, _ in folds[0]] == [str(c) for c in CUTOFFS[:-1]]
    # each fold's supervised recipes learn from the windows matured by its cutoff, pooled
    for j, (v, t) in enumerate(folds[0]):
        assert t.outcome_end is not None and t.outcome_end <= CUTOFFS[j]
        assert _members(t) == [str(c) for c in CUTOFFS[j + 1 :][: CONFIG.pool_windows]]
    assert len(_members(folds[0][0][1])) > 1  # the pool is really a pool here
    learn = data[0].inputs.deploy_train
    assert learn.outcome_end is not None and learn.outcome_end <= AS_OF
    assert _members(learn) == [str(c) for c in CUTOFFS[: CONFIG.pool_windows]]
    for (va, ta), (vb, tb) in zip(*folds, strict=True):
        _same(va, vb)
        _same(ta, tb)
    _same(learn, data[1].inputs.deploy_train)
    results = []
    for settings in (base, later):
        with connect(settings) as con:
            out = train_challenger(
                con, settings, run_id="r", as_of=AS_OF, feature_set_name="retail", config=CONFIG
            )
            table = con.execute(
                "select candidate, objective, backtest_eta2, stability, chosen "
                "from ops.model_candidates order by candidate"
            ).df()
        results.append((out["model_version"], out["backtest"], table))
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]
    pd.testing.assert_frame_equal(results[0][2], results[1][2], rtol=1e-9)


@pytest.mark.parametrize("day", [C1, AS_OF])
def test_the_late_lines_are_real_purchases(tmp_path: Path, day: date) -> None:
    """Guard against a vacuous pass: the added lines do count from their own dates on."""
    later = warehouse(tmp_path / "later", later_lines(day))
    with connect(later) as con:
        late = con.execute(
            "select count(*) from staging.stg_transactions where load_id = 'late' "
            "and invoiced_at >= $d",
            {"d": day},
        ).fetchone()[0]
    assert late == 57
