"""The bench harness runs end to end on a tiny generated dataset and writes its table.

Structure only: timings depend on the machine and are never asserted. Marked slow: every
step is its own process importing DuckDB, scikit-learn and Great Expectations (1-2 minutes on
an idle 2-core machine, more on a busy one).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.run import main

LINES = 2_000
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench_result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bench run (every step in its own process) into a tmp results folder."""
    root = tmp_path_factory.mktemp("bench")
    return main(
        [
            "--lines",
            str(LINES),
            "--customers",
            "100",
            "--workdir",
            str(root / "work"),
            "--results-dir",
            str(root / "results"),
        ]
    )


def test_writes_markdown_and_json(bench_result: Path) -> None:
    assert bench_result.name == f"bench_{LINES}.md"
    assert bench_result.with_suffix(".json").is_file()


def test_every_step_has_a_row(bench_result: Path) -> None:
    payload = json.loads(bench_result.with_suffix(".json").read_text())
    names = [step["name"] for step in payload["steps"]]
    assert names[:2] == ["generate", "ingest"]
    for expected in (
        "features",
        "train",
        "score",
        "publish",
        "floor_csv",
        "floor_staged",
        "pandas_notebook",
    ):
        assert expected in names
    assert "validate_staging" in names
    by_name = {step["name"]: step for step in payload["steps"]}
    # the harness's own steps must run; a pipeline stage broken by work in progress elsewhere
    # shows up as a failed row naming its log, and the run still writes its table
    for own in ("generate", "ingest", "floor_csv", "floor_staged", "pandas_notebook"):
        assert by_name[own]["status"] == "ok", by_name[own]
        assert by_name[own]["seconds"] >= 0 and by_name[own]["peak_rss_mb"] > 0
    for step in payload["steps"]:
        assert step["status"] in ("ok", "failed", "n/a (not built)"), step
        if step["status"] == "failed":
            assert "log:" in step["note"]
    assert payload["machine"]["cpu_count"] >= 1
    assert {goal["check"] for goal in payload["goals"]} >= {
        "features / floor (CSV)",
        "features / floor_staged",
        "validate_staging (3 suites) / features",
    }


def test_table_has_ratio_columns(bench_result: Path) -> None:
    text = bench_result.read_text()
    assert (
        "| stage | seconds | CPU s | peak RSS MB | rows | x floor (CSV) | x floor (staged)" in text
    )
    assert "**floor_csv**" in text and "**pandas_notebook**" in text
    assert "## Goals" in text and "## Notes" in text
