"""The score-recent publish on the tiny publish world: a failure at any step before the
serving file is swapped leaves every marts row and reader file as it was; one after the swap
is finished from the serving file; history moves at the load day, a same-day change replaces
the stay it opened."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from segments.core.db import connect
from segments.publish import build_recent_candidate, publish_recent, recover_published
from segments.settings import Settings
from tests.publish.publish_world import NAMES, publish, world_settings

AS_OF = date(2026, 1, 1)
LOAD_DAY = date(2026, 1, 3)
NIGHTLY = {"a": 1, "b": 2, "c": 3, "d": 4}


class Stop(Exception):
    """Raised by a test hook to stop a publish at one step."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = world_settings(tmp_path / "home")
    publish(settings, run_id="n1", as_of=AS_OF, assignments=NIGHTLY)
    return settings


def _rows(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _served(settings: Settings) -> dict[str, int]:
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        return dict(
            con.execute("select customer_id, segment_id from customer_segments").fetchall()
        )


def _touch(settings: Settings, run_id: str, moves: dict[str, int]) -> None:
    """What plan_recent and the scoring of the touched customers would have written."""
    with connect(settings) as con:
        for customer, segment in moves.items():
            con.execute(
                "insert into ops.touched_customers values ($r, $c)", {"r": run_id, "c": customer}
            )
            con.execute(
                "insert into ops.scores values ($r, $d, $c, $s, $n, 'm1')",
                {"r": run_id, "d": AS_OF, "c": customer, "s": segment, "n": NAMES[segment]},
            )


def _publish_recent(settings: Settings, run_id: str, valid_from: date, **kwargs) -> dict:
    with connect(settings) as con:
        build_recent_candidate(con, settings, run_id=run_id, as_of=AS_OF)
        return publish_recent(
            con, settings, run_id=run_id, as_of=AS_OF, valid_from=valid_from, loads=1, **kwargs
        )


def _state(settings: Settings) -> tuple:
    return (
        _rows(settings, "select * from marts.customer_segments order by all"),
        _rows(settings, "select * from marts.segment_history order by all"),
        _rows(settings, "select * from ops.recent_publishes"),
        _served(settings),
        sorted(p.name for p in settings.exports_dir.iterdir()),
    )


@pytest.mark.parametrize(
    "step", ["history", "files", "serving:segment_history", "manifest", "swap"]
)
def test_a_failed_recent_publish_leaves_the_last_publish_served(settings, step):
    before = _state(settings)
    _touch(settings, "r1", {"a": 2})

    def stop(name: str) -> None:
        if name == step:
            raise Stop(name)

    with pytest.raises(Stop):
        _publish_recent(settings, "r1", LOAD_DAY, on_step=stop)
    recover_published(settings)
    assert _state(settings) == before


def test_a_recent_publish_killed_after_the_swap_is_finished_from_the_serving_file(settings):
    _touch(settings, "r1", {"a": 2})

    def stop(name: str) -> None:
        if name == "commit":
            raise Stop(name)

    with pytest.raises(Stop):
        _publish_recent(settings, "r1", LOAD_DAY, on_step=stop)
    recover_published(settings)  # the next run's preamble
    assert _served(settings)["a"] == 2
    marts = dict(_rows(settings, "select customer_id, segment_id from marts.customer_segments"))
    assert marts == _served(settings)  # the marts never run behind what is served


def test_history_moves_on_at_the_load_day_and_a_same_day_change_replaces_the_stay(settings):
    _touch(settings, "r1", {"a": 2, "b": 2})  # a moves, b stays
    facts = _publish_recent(settings, "r1", LOAD_DAY)
    assert facts["changes"] == {"moved": 1} and facts["rows"] == 4
    assert _served(settings) == {**NIGHTLY, "a": 2}
    history = "select segment_id, valid_from, valid_to, run_id, closed_by_run_id from "
    stays = f"{history} marts.segment_history where customer_id = 'a' order by valid_from"
    assert _rows(settings, stays) == [
        (1, AS_OF, LOAD_DAY, "n1", "r1"),
        (2, LOAD_DAY, None, "r1", None),
    ]
    _touch(settings, "r2", {"a": 3})  # later the same day: the stay r1 opened is replaced
    _publish_recent(settings, "r2", LOAD_DAY)
    assert _rows(settings, stays) == [
        (1, AS_OF, LOAD_DAY, "n1", "r1"),
        (3, LOAD_DAY, None, "r2", None),
    ]
    names = {p.name for p in settings.exports_dir.iterdir()}
    assert "segment_changes_2026-01-01.csv" in names  # the nightly's change file is kept
    assert sum(n.startswith("segment_changes_2026-01-01_recent-") for n in names) >= 2
    untouched = _rows(
        settings,
        "select customer_id, segment_id, as_of from marts.customer_segments "
        "where customer_id <> 'a' order by 1",
    )
    assert untouched == [("b", 2, AS_OF), ("c", 3, AS_OF), ("d", 4, AS_OF)]
