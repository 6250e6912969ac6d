"""marts.segment_kpis: one slice per publish, a re-run replaces it, retention once matured;
in the lake and the serving file like every mart. ops.model_monitoring: matured re-score."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
from monitor_world import add_lines, at, publish, world_settings

from segments.core.db import connect
from segments.monitor import check_decay
from segments.monitor.decay import decay_reason

D1 = date(2026, 1, 1)
D2, D3 = D1 + timedelta(days=7), D1 + timedelta(days=14)
RUN1 = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2, "f": 2}
RUN2 = {**RUN1, "c": 2}


@pytest.fixture
def settings(tmp_path):
    s = world_settings(tmp_path / "home", monitor_horizon_days=14, kpi_window_days=28)
    add_lines(
        s, [("a", at(D1 - timedelta(days=3)), 100.0), ("d", at(D1 - timedelta(days=40)), 50.0)]
    )
    return s


def _kpis(settings, as_of):
    with connect(settings, read_only=True) as con:
        return con.execute(
            "select segment_id, customers, customer_share, revenue, revenue_share, orders, "
            "joined_customers, left_customers, retention, mean_p_alive from marts.segment_kpis "
            "where as_of = $d order by segment_id",
            {"d": as_of},
        ).fetchall()


def test_one_slice_per_publish_replaced_by_a_rerun(settings):
    publish(settings, "r1", D1, RUN1)
    first = _kpis(settings, D1)
    # d's purchase is 40 days back, outside the 28-day window
    assert first == [
        (1, 3, 0.5, 100.0, 1.0, 1, 3, 0, None, pytest.approx(0.8)),
        (2, 3, 0.5, 0.0, 0.0, 0, 3, 0, None, pytest.approx(0.8)),
    ]
    publish(settings, "r1b", D1, RUN1)  # the same as_of again
    with connect(settings, read_only=True) as con:
        slices = con.execute(
            "select as_of, count(*), any_value(run_id) from marts.segment_kpis group by 1"
        ).fetchall()
    assert slices == [(D1, 2, "r1b")]
    assert _kpis(settings, D1) == first


def test_movement_retention_lake_and_serving(settings):
    publish(settings, "r1", D1, RUN1)
    add_lines(settings, [("a", at(D1 + timedelta(days=2)), 20.0), ("b", at(D2), 30.0)])
    add_lines(settings, [("d", at(D3 + timedelta(days=1)), 10.0)])  # after D1's horizon
    publish(settings, "r2", D2, RUN2)
    second = _kpis(settings, D2)
    assert [(r[0], r[1], r[6], r[7]) for r in second] == [(1, 2, 0, 1), (2, 4, 1, 0)]
    assert [r[8] for r in _kpis(settings, D1)] == [None, None]  # horizon not over yet
    publish(settings, "r3", D3, RUN2)
    # D1's horizon [D1, D1 + 14) is over at D3: a and b bought again, nobody of segment 2
    assert [r[8] for r in _kpis(settings, D1)] == [pytest.approx(2 / 3), 0.0]
    assert [r[8] for r in _kpis(settings, D2)] == [None, None]
    # one whole lake file (earlier rows change when their retention matures), like serving
    lake = settings.lake_dir / "marts" / "segment_kpis" / "data.parquet"
    assert duckdb.sql(
        f"select count(*), count(distinct as_of), count(retention) from '{lake}'"
    ).fetchone() == (6, 3, 2)
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        assert con.execute("select count(*) from segment_kpis").fetchone()[0] == 6


def test_decay_rescores_the_matured_publish_against_its_training_backtest(settings):
    with connect(settings) as con:
        con.execute(
            "insert into ops.backtests (model_version, cutoff, horizon_days, method, "
            "explained_variance, retention_spread, recorded_at) values ('m1', '2025-03-01', "
            "14, 'model', 0.5, 0.9, now()::timestamp)"
        )
    publish(settings, "r1", D1, RUN1)
    add_lines(settings, [("a", at(D1 + timedelta(days=2)), 20.0), ("b", at(D2), 30.0)])
    with connect(settings) as con:
        assert check_decay(con, settings, run_id="x", as_of=D2)["verdict"] == "pending"
        result = check_decay(con, settings, run_id="r3", as_of=D3)
        stored = con.execute(
            "select publish_as_of, customers, retention_spread, verdict, is_champion "
            "from ops.model_monitoring"
        ).fetchall()
    assert result["publish_as_of"] == D1 and result["model_version"] == "m1"
    assert result["retention_spread"] == pytest.approx(2 / 3)
    assert result["retention_spread_drop"] == pytest.approx(1 - (2 / 3) / 0.9)
    assert 0 < result["explained_variance"] < 1
    assert stored == [(D1, 6, pytest.approx(2 / 3), result["verdict"], True)]
    strict = settings.model_copy(update={"decay_max_drop": 0.1})
    with connect(settings) as con:
        decayed = check_decay(con, strict, run_id="r3", as_of=D3)
    assert decayed["verdict"] == "decayed"
    assert decay_reason(decayed, 0.1).startswith("decay: segments of 2026-01-01 (m1)")
