"""Old run folders go: reports/<run_id>/ (report and Data Docs, ~10 MB a run) are kept for the
newest SEGMENTS_REPORT_RETENTION_RUNS runs; `latest/` and pages across runs always stay."""

from __future__ import annotations

import shutil
from pathlib import Path

from segments.settings import Settings

KEEP_ALWAYS = frozenset({"latest"})


def prune_reports(settings: Settings, *, keep_run: str | None = None) -> list[Path]:
    """Delete run folders beyond the newest `report_retention_runs` (by last change)."""
    folders = (
        [
            p
            for p in settings.reports_dir.iterdir()
            if p.is_dir() and p.name not in KEEP_ALWAYS and not p.name.startswith(".")
        ]
        if settings.reports_dir.is_dir()
        else []
    )
    folders.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    removed = []
    for folder in folders[settings.report_retention_runs :]:
        if folder.name == keep_run:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed
