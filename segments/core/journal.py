"""The runs journal: ops.runs rows that could not be written because the warehouse was busy.

One JSON file per row under SEGMENTS_HOME/.journal/, written under a temporary name and
renamed (no reader sees half a row, concurrent writers never interleave). The next run that
opens the warehouse replays them into ops.runs (`segments.core.runs.replay_journal`).
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

JOURNAL_DIR = ".journal"


def journal_dir(home: Path) -> Path:
    return home / JOURNAL_DIR


def append(home: Path, row: dict[str, Any]) -> Path:
    """Write one row; file names sort by time, so replay keeps the order rows happened in."""
    folder = journal_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}-{row['run_id']}-{row['stage']}.json"
    tmp = folder / f".{name}.tmp"
    tmp.write_text(json.dumps(row, default=str))
    os.replace(tmp, folder / name)
    return folder / name


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """JSON gives strings back; ops.runs wants dates and timestamps."""
    out = dict(row)
    for key in ("started_at", "ended_at", "now"):
        if out.get(key):
            out[key] = datetime.fromisoformat(out[key])
    if out.get("as_of"):
        out["as_of"] = date.fromisoformat(out["as_of"])
    return out


def pending(home: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every journal row not yet replayed, oldest first (unreadable files are skipped)."""
    folder = journal_dir(home)
    if not folder.is_dir():
        return []
    rows = []
    for path in sorted(folder.glob("[0-9]*.json")):
        try:
            rows.append((path, _typed(json.loads(path.read_text()))))
        except (OSError, ValueError):
            continue
    return rows
