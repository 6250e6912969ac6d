"""Protect production: a forced challenger replaces the champion only by the rule or on
request, and the run summary and `segments status` say when it was kept back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.nightly_segmentation import nightly_segmentation
from flows.params import NightlyParams
from segments.cli import app
from segments.demo.generate import generate_demo

AS_OF = date(2026, 1, 1)
# a UI run with another feature set, retrained on purpose, and too few segments to be good
FORCED = {"feature_set": "retail_web", "retrain": "always", "k_min": 2, "k_max": 2}


def _published(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select customer_id, segment_id, segment_name, model_version "
            "from marts.customer_segments order by customer_id"
        ).fetchall()


def _registry(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select model_version, status, feature_set, reason from ops.model_registry "
            "order by trained_at"
        ).fetchall()


@pytest.fixture
def demo_home(segments_home: Path) -> Path:
    generate_demo(segments_home / "landing", customers=400, seed=7)
    return segments_home


def test_a_forced_challenger_without_promote_leaves_the_segments(prefect_harness, demo_home):
    nightly_segmentation(NightlyParams(as_of=AS_OF))
    before = _published(demo_home)
    summary = nightly_segmentation(NightlyParams(as_of=AS_OF, **FORCED))
    train = summary["train"]
    assert train["trained"] and not train["promoted"] and train["kept_back"]
    assert train["promotion_reason"].startswith("champion kept")
    assert _published(demo_home) == before  # same customers, segments, names and model
    (champion, status_1, fs_1, _), (challenger, status_2, fs_2, reason) = _registry(demo_home)
    assert (status_1, fs_1, status_2, fs_2) == ("champion", "retail", "challenger", "retail_web")
    assert "worse by more than" in reason
    status = CliRunner().invoke(app, ["status"])
    assert f"challenger {challenger} (as of {AS_OF}) kept back" in status.output
    with duckdb.connect(str(demo_home / "warehouse.duckdb"), read_only=True) as con:
        from segments.report import run_summary

        markdown = run_summary(con, summary["run_id"])
    assert "A challenger was kept back" in markdown

    # asked for explicitly, the same challenger replaces the champion
    summary = nightly_segmentation(NightlyParams(as_of=AS_OF, promote=True, **FORCED))
    assert summary["train"]["promoted"]
    assert summary["train"]["promotion_reason"].startswith("promoted on request")
    after = _published(demo_home)
    assert {row[3] for row in after} == {summary["train"]["model_version"]} != {champion}
    assert len({row[1] for row in after}) == 2
    assert "kept back" not in CliRunner().invoke(app, ["status"]).output


def test_segments_run_says_when_a_challenger_is_kept_back(prefect_harness, demo_home):
    """The command line, as a user types it: a run on another feature set with no backtest
    to compare on keeps the champion, and the run's output says which challenger and why."""
    runner = CliRunner()
    first = runner.invoke(app, ["run", "--as-of", str(AS_OF)])
    assert first.exit_code == 0, first.output
    assert "kept back" not in first.output  # the first model is promoted
    before = _published(demo_home)
    args = ["run", "--as-of", str(AS_OF), "--retrain", "always", "--feature-set", "demographic"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (champion, *_), (challenger, status, feature_set, _) = _registry(demo_home)
    assert (status, feature_set) == ("challenger", "demographic")
    line = (
        f"challenger {challenger} (as of {AS_OF}) kept back: the challenger uses feature set "
        f"demographic, the champion retail, and there is no backtest to compare them on"
    )
    assert line in result.output
    assert {row[3] for row in _published(demo_home)} == {champion} == {row[3] for row in before}
