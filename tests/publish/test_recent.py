"""Incremental scoring as plain functions: after a nightly publish and a late load, the touched
customers' features and segments equal what the nightly gives at the same as_of; everyone else
keeps their row; history moves on at the load day; nothing new is a no-op."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.nightly_segmentation import nightly_segmentation
from flows.params import NightlyParams
from segments.core.db import connect
from segments.core.errors import NothingToPublishError
from segments.core.pii import customer_pseudonym, load_key
from segments.demo.generate import generate_demo
from segments.features import build_feature_stage
from segments.ingest import ingest_one
from segments.lifecycle import require_champion, score_customers
from segments.publish import build_recent_candidate, plan_recent, publish_recent
from segments.settings import Settings
from tests.publish.recent_world import AS_OF, NEW_CUSTOMER, lowest_customer, write_late_files

SEGMENT_COLUMNS = (
    "customer_id, segment_id, segment_name, rfm_segment, recency_days, frequency, monetary, "
    "clv, model_version, as_of"
)


def score_recent_plain(settings: Settings, run_id: str) -> dict[str, Any]:
    """What the score-recent flow does, task by task, without Prefect (the gates aside)."""
    with connect(settings) as con:
        champion = require_champion(con)
        plan = plan_recent(con, settings, run_id)
        if not plan.touched:
            return {"plan": plan}
        build_feature_stage(con, settings, plan.as_of)
        score = score_customers(
            con,
            run_id=run_id,
            as_of=plan.as_of,
            feature_set_name=champion.feature_set,
            touched_by=run_id,
        )
        build_recent_candidate(con, settings, run_id=run_id, as_of=plan.as_of)
        published = publish_recent(
            con,
            settings,
            run_id=run_id,
            as_of=plan.as_of,
            valid_from=plan.valid_from,
            loads=plan.loads,
        )
    return {"plan": plan, "score": score, "publish": published}


def _rows(home: Path, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or {}).fetchall()


def _segments(home: Path) -> dict[str, tuple]:
    rows = _rows(home, f"select {SEGMENT_COLUMNS} from marts.customer_segments")
    return {r[0]: r for r in rows}


def _features(home: Path, customers: set[str]) -> dict[str, tuple]:
    rows = _rows(
        home,
        "select * from features.customer_features where customer_id in "
        "(select unnest($c)) order by customer_id",
        {"c": sorted(customers)},
    )
    return {r[1]: r for r in rows}


@pytest.fixture
def published_home(prefect_harness, segments_home: Path) -> Path:
    generate_demo(segments_home / "landing", customers=300, seed=7)
    nightly_segmentation(NightlyParams(as_of=AS_OF))
    return segments_home


def test_score_recent_equals_the_nightly_for_touched_customers(
    published_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    home = published_home
    settings = Settings()
    before = _segments(home)
    history_before = _rows(home, "select * from marts.segment_history order by all")
    mover = lowest_customer(settings)
    with connect(settings) as con:
        for source, path in write_late_files(tmp_path / "late", mover).items():
            ingest_one(con, settings, source, path, "late-load")
    (load_day,) = {
        r[0]
        for r in _rows(
            home, "select cast(ended_at as date) from ops.loads where run_id = 'late-load'"
        )
    }

    result = score_recent_plain(settings, "recent-1")

    key = load_key(settings)
    raw = ["C0000005", "C0000010", "C0000020", "C0000030", NEW_CUSTOMER, mover, "C0000040"]
    touched = {customer_pseudonym(r, key) for r in raw}
    recorded = {
        r[0]
        for r in _rows(
            home, "select customer_id from ops.touched_customers where run_id = 'recent-1'"
        )
    }
    assert recorded == touched
    assert result["plan"].as_of == AS_OF and result["plan"].loads == 2
    after = _segments(home)
    new, moved = customer_pseudonym(NEW_CUSTOMER, key), customer_pseudonym(mover, key)
    assert new in after and new not in before  # a first purchase before as_of: a new customer
    assert after[moved][1] != before[moved][1], "the big spender moved segment"
    untouched = set(before) - touched
    assert {c: after[c] for c in untouched} == {c: before[c] for c in untouched}
    assert set(after) == set(before) | {new}
    assert result["score"]["customers"] == len(touched & set(after))

    # history: stays of the changed customers open on the load day, the ones they left close
    opened = _rows(
        home,
        "select customer_id, valid_from, as_of from marts.segment_history "
        "where run_id = 'recent-1' order by all",
    )
    assert {c for c, _, _ in opened} == {new, moved} | {
        c for c in touched & set(before) if after[c][1] != before[c][1]
    }
    assert {(v, a) for _, v, a in opened} == {(load_day, AS_OF)}
    closed = _rows(
        home,
        "select customer_id, valid_to from marts.segment_history "
        "where closed_by_run_id = 'recent-1'",
    )
    assert (moved, load_day) in closed
    (open_stays,) = _rows(
        home,
        "select count(*) = count(distinct customer_id) from marts.segment_history "
        "where valid_to is null",
    )
    assert open_stays == (True,)
    changes = {r[0] for r in _rows(home, "select customer_id from marts.segment_changes")}
    assert changes == {c for c, _, _ in opened}
    export = home / "exports"
    assert any(p.name.startswith("segment_changes_2026-01-01_recent-") for p in export.iterdir())
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as serving:
        served = dict(
            serving.execute("select customer_id, segment_id from customer_segments").fetchall()
        )
    assert served == {c: r[1] for c, r in after.items()}

    # nothing new: a no-op, no second history row
    history = _rows(home, "select * from marts.segment_history order by all")
    again = score_recent_plain(settings, "recent-2")
    assert again["plan"].touched == 0 and again["plan"].loads == 0
    assert _rows(home, "select * from marts.segment_history order by all") == history
    assert len(history) == len(history_before) + len(opened)

    # the nightly at the same as_of, in a copy, gives the touched customers the same rows
    features = _features(home, touched)
    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    monkeypatch.setenv("SEGMENTS_HOME", str(copy))
    nightly_segmentation(NightlyParams(as_of=AS_OF, retrain="never"))
    assert _features(copy, touched) == features
    nightly = _segments(copy)
    assert {c: nightly.get(c) for c in touched} == {c: after.get(c) for c in touched}


def test_score_recent_needs_a_champion_and_a_publish(segments_home: Path):
    settings = Settings()
    with connect(settings) as con:
        from segments.core.sql import apply_schema

        apply_schema(con, settings.sql_dir)
        with pytest.raises(NothingToPublishError, match="run `segments run` first"):
            require_champion(con)
        with pytest.raises(NothingToPublishError, match="run `segments run` first"):
            plan_recent(con, settings, "r")
