"""Write-back: the marts of one publish, history and migration across runs, re-runs, exports."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from publish_world import publish, world_settings

from segments.core.errors import RefusedError
from segments.publish.exports import export_snapshot
from segments.settings import Settings

D1, D2, D3 = date(2026, 1, 1), date(2026, 1, 8), date(2026, 1, 15)
RUN1 = {"a": 1, "b": 1, "c": 2, "d": 3}
RUN2 = {"a": 2, "b": 1, "c": 2, "e": 3}  # a moves, d leaves, e is new
RUN3 = {"a": 1, "b": 1, "c": 2, "d": 3, "e": 3}  # a moves back, d returns


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return world_settings(tmp_path / "home")


def _rows(settings: Settings, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql, params or {}).fetchall()


def _history(settings: Settings) -> list[tuple]:
    return _rows(
        settings,
        "select customer_id, segment_id, valid_from, valid_to "
        "from marts.segment_history order by all",
    )


def _migration(settings: Settings, as_of: date) -> set[tuple]:
    return set(
        _rows(
            settings,
            "select from_segment_id, to_segment_id, customers from "
            "marts.segment_migration where as_of = $d",
            {"d": as_of},
        )
    )


def test_first_publish_writes_every_mart_with_lineage(settings):
    summary = publish(settings, run_id="r1", as_of=D1, assignments=RUN1)
    assert summary["rows"] == 4 and summary["changes"] == {"new customer": 4}
    tables = [
        t
        for (t,) in _rows(
            settings, "select table_name from duckdb_tables() where schema_name = 'marts'"
        )
    ]
    assert set(tables) >= {
        "customer_segments",
        "segment_history",
        "segment_changes",
        "segment_migration",
        "segment_profiles",
        "publishes",
    }
    for table in tables:
        bad = _rows(
            settings,
            f"select count(*) from marts.{table} where run_id is distinct "
            "from 'r1' or model_version is distinct from 'm1' "
            "or as_of is distinct from $d",
            {"d": D1},
        )
        assert bad == [(0,)], table
    profiles = _rows(
        settings,
        "select segment_id, customers, customer_share, revenue_share, "
        "description from marts.segment_profiles order by segment_id",
    )
    assert [(p[0], p[1]) for p in profiles] == [(1, 2), (2, 1), (3, 1), (4, 0)]
    assert sum(p[2] for p in profiles) == pytest.approx(1.0)
    assert sum(p[3] or 0 for p in profiles) == pytest.approx(1.0)
    assert profiles[0][4] == "Champions customers"
    assert _migration(settings, D1) == {(None, 1, 2), (None, 2, 1), (None, 3, 1)}


def test_history_and_migration_across_three_runs_with_a_changing_customer(settings):
    publish(settings, run_id="r1", as_of=D1, assignments=RUN1)
    publish(settings, run_id="r2", as_of=D2, assignments=RUN2)
    summary = publish(settings, run_id="r3", as_of=D3, assignments=RUN3, model_version="m2")
    assert _history(settings) == [
        ("a", 1, D1, D2),
        ("a", 1, D3, None),
        ("a", 2, D2, D3),
        ("b", 1, D1, None),
        ("c", 2, D1, None),
        ("d", 3, D1, D2),
        ("d", 3, D3, None),
        ("e", 3, D2, None),
    ]
    # point in time: who was where between the second and third publish
    between = _rows(
        settings,
        "select customer_id, segment_id from marts.segment_history "
        "where valid_from <= $d and (valid_to is null or valid_to > $d) "
        "order by 1",
        {"d": date(2026, 1, 10)},
    )
    assert between == sorted(RUN2.items())
    assert _migration(settings, D2) == {
        (1, 2, 1),
        (1, 1, 1),
        (2, 2, 1),
        (3, None, 1),
        (None, 3, 1),
    }
    assert _migration(settings, D3) == {(2, 1, 1), (1, 1, 1), (2, 2, 1), (None, 3, 1), (3, 3, 1)}
    changes = _rows(
        settings,
        "select customer_id, previous_segment_id, segment_id, "
        "change_reason, previous_since from marts.segment_changes "
        "order by 1",
    )
    assert changes == [("a", 2, 1, "moved (new model)", D2), ("d", None, 3, "returned", None)]
    assert summary["previous_as_of"] == D2.isoformat()
    assert _rows(
        settings,
        "select as_of, previous_as_of, run_id, changed_customers from marts.publishes order by 1",
    ) == [(D1, None, "r1", 4), (D2, D1, "r2", 3), (D3, D2, "r3", 2)]
    # migration counts add up to the customers on each side of every publish
    for as_of, before, after in ((D2, RUN1, RUN2), (D3, RUN2, RUN3)):
        rows = _rows(
            settings,
            "select sum(customers) filter (where from_segment_id is not null),"
            " sum(customers) filter (where to_segment_id is not null) from "
            "marts.segment_migration where as_of = $d",
            {"d": as_of},
        )
        assert rows == [(len(before), len(after))]


def test_rerun_of_the_same_as_of_replaces_that_publish(settings):
    publish(settings, run_id="r1", as_of=D1, assignments=RUN1)
    publish(settings, run_id="r2", as_of=D2, assignments=RUN2)
    rerun = {"a": 1, "b": 2, "c": 2, "d": 3}  # the corrected D2: a stays, b moves, d stays
    publish(settings, run_id="r2-again", as_of=D2, assignments=rerun)
    assert _history(settings) == [
        ("a", 1, D1, None),
        ("b", 1, D1, D2),
        ("b", 2, D2, None),
        ("c", 2, D1, None),
        ("d", 3, D1, None),
    ]
    assert _migration(settings, D2) == {(1, 1, 1), (1, 2, 1), (2, 2, 1), (3, 3, 1)}
    assert _rows(settings, "select as_of, run_id from marts.publishes order by 1") == [
        (D1, "r1"),
        (D2, "r2-again"),
    ]
    assert _rows(
        settings, "select distinct run_id from marts.segment_migration where as_of = $d", {"d": D2}
    ) == [("r2-again",)]
    # the same inputs twice give the same history: a re-run is idempotent
    before = _history(settings)
    publish(settings, run_id="r2-third", as_of=D2, assignments=rerun)
    assert _history(settings) == before
    lake = settings.lake_dir / "marts" / "customer_segments"
    assert sorted(p.name for p in lake.iterdir()) == [
        "as_of=2026-01-01.parquet",
        "as_of=2026-01-08.parquet",
    ]
    part = pd.read_parquet(lake / "as_of=2026-01-08.parquet")
    assert set(part["run_id"]) == {"r2-third"} and len(part) == 4
    changes = pd.read_csv(settings.exports_dir / "segment_changes_2026-01-08.csv")
    assert changes["customer_id"].tolist() == ["b"]
    assert not list(settings.home.rglob(".*.tmp-*"))


def test_an_as_of_before_the_latest_publish_is_refused_and_changes_nothing(settings):
    publish(settings, run_id="r1", as_of=D1, assignments=RUN1)
    publish(settings, run_id="r2", as_of=D2, assignments=RUN2)
    before = _history(settings), settings.serving_path.read_bytes()
    with pytest.raises(ValueError, match="before the latest publish"):
        publish(settings, run_id="late", as_of=D1, assignments=RUN3)
    assert (_history(settings), settings.serving_path.read_bytes()) == before
    assert _rows(settings, "select distinct run_id from marts.customer_segments") == [("r2",)]


def test_readers_get_serving_file_lake_and_crm_exports(settings):
    publish(settings, run_id="r1", as_of=D1, assignments=RUN1)
    publish(settings, run_id="r2", as_of=D2, assignments=RUN2, snapshot=True)
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        tables = {t for (t,) in con.execute("show tables").fetchall()}
        assert {
            "customer_segments",
            "segment_history",
            "segment_profiles",
            "rfm_segment_rules",
            "runs",
            "model_registry",
            "publishes",
        } <= tables
        assert con.execute("select distinct run_id from customer_segments").fetchall() == [("r2",)]
        assert con.execute("select model_version from model_registry").fetchall() == [("m1",)]
    # one file per publish, as_of a DATE inside: pandas and DuckDB read the folder as is
    lake = settings.lake_dir / "marts" / "customer_segments"
    frame = pd.read_parquet(lake)
    assert len(frame) == 8 and sorted(frame["as_of"].unique()) == [D1, D2]
    with duckdb.connect() as con:
        got = con.execute(
            "select as_of, count(*) from read_parquet($p) group by 1 order by 1",
            {"p": str(lake / "*.parquet")},
        ).fetchall()
    assert got == [(D1, 4), (D2, 4)]
    changes = pd.read_parquet(settings.exports_dir / "segment_changes_2026-01-08.parquet")
    assert set(changes.columns) >= {
        "customer_id",
        "previous_segment_name",
        "segment_name",
        "change_reason",
    }
    assert dict(zip(changes["customer_id"], changes["change_reason"], strict=True)) == {
        "a": "moved",
        "d": "left",
        "e": "new customer",
    }
    snapshot = pd.read_csv(settings.exports_dir / "segments_snapshot_2026-01-08.csv")
    assert sorted(snapshot["customer_id"]) == sorted(RUN2)


def test_export_snapshot_reads_any_published_as_of_from_the_lake(settings):
    publish(settings, run_id="r1", as_of=D1, assignments=RUN1)
    publish(settings, run_id="r2", as_of=D2, assignments=RUN2)
    latest = export_snapshot(settings)
    assert latest["csv"].name == "segments_snapshot_2026-01-08.csv"
    first = pd.read_parquet(export_snapshot(settings, D1)["parquet"])
    assert dict(zip(first["customer_id"], first["segment_id"], strict=True)) == RUN1
    assert set(first["run_id"]) == {"r1"} and set(first["as_of"].astype(str)) == {"2026-01-01"}
    with pytest.raises(RefusedError, match="no publish for as_of"):
        export_snapshot(settings, D3)
