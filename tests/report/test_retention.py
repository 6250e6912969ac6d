"""Old run folders (report + Data Docs, ~10 MB a run) go; the newest N, latest/ and the run
being reported stay."""

from __future__ import annotations

import os
from pathlib import Path

from segments.report import prune_reports
from segments.settings import Settings


def test_only_the_newest_run_folders_are_kept(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", report_retention_runs=2)
    reports = settings.reports_dir
    for age, name in enumerate(["r5", "r4", "r3", "r2", "r1", "latest"]):
        folder = reports / name / "data_docs"
        folder.mkdir(parents=True)
        (folder / "index.html").write_text("x")
        stamp = 1_700_000_000 - age * 3600  # r5 newest ... r1 oldest
        os.utime(reports / name, (stamp, stamp))
    (reports / "monitor.html").write_text("across runs")
    removed = prune_reports(settings, keep_run="r1")
    assert sorted(p.name for p in removed) == ["r2", "r3"]
    assert sorted(p.name for p in reports.iterdir()) == [
        "latest",
        "monitor.html",
        "r1",
        "r4",
        "r5",
    ]
