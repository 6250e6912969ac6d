"""A real second process reads serving.duckdb in a loop while publishes replace it.

DuckDB allows one writer or many readers per file; the reader only ever opens the serving
copy, so it must never fail, and never see two publishes mixed in one snapshot.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType

READER = r"""
import json, sys, time
from pathlib import Path
import duckdb

path, stop, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
deadline = time.monotonic() + float(sys.argv[4])
reads, errors, mixed, seen = 0, [], [], set()
while not stop.exists() and time.monotonic() < deadline:
    try:
        con = duckdb.connect(path, read_only=True)
        try:
            rows, runs, low, high = con.execute(
                "select count(*), count(distinct run_id), min(run_id), max(run_id) "
                "from customer_segments").fetchone()
            profiles = con.execute("select count(distinct run_id), min(run_id), sum(customers) "
                                   "from segment_profiles").fetchone()
            latest = con.execute("select run_id from publishes order by as_of desc "
                                 "limit 1").fetchone()[0]
        finally:
            con.close()
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
        continue
    reads += 1
    if reads == 1:
        out.with_suffix(".started").touch()  # the test starts publishing now
    seen.add(low)
    if runs != 1 or profiles[0] != 1 or profiles[1] != low or latest != low \
            or profiles[2] != rows:
        mixed.append([rows, runs, low, high, list(profiles), latest])
out.write_text(json.dumps({"reads": reads, "errors": errors[:20], "error_count": len(errors),
                           "mixed": mixed[:20], "seen": sorted(seen)}))
"""


def _support() -> ModuleType:
    """The publish tests' tiny world (tests/publish/publish_world.py)."""
    path = Path(__file__).resolve().parents[1] / "publish" / "publish_world.py"
    spec = importlib.util.spec_from_file_location("publish_support", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assignments(publish_no: int, customers: int = 3000) -> dict[str, int]:
    """Every publish moves a different slice of customers, so each snapshot differs."""
    return {f"c{i:05d}": 1 + (i + publish_no * (i % 7)) % 4 for i in range(customers)}


def test_reader_never_fails_nor_sees_a_mix_of_publishes(tmp_path):
    support = _support()
    settings = support.world_settings(tmp_path / "home")
    support.publish(settings, run_id="run-0", as_of=date(2026, 1, 1), assignments=_assignments(0))
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    script = tmp_path / "reader.py"
    script.write_text(READER)
    reader = subprocess.Popen(
        [sys.executable, str(script), str(settings.serving_path), str(stop), str(out), "120"],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while (
            not out.with_suffix(".started").exists()
            and reader.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        for n in range(1, 5):
            support.publish(
                settings,
                run_id=f"run-{n}",
                as_of=date(2026, 1, 1) + timedelta(days=n),
                assignments=_assignments(n),
            )
            time.sleep(0.3)  # let the reader take a few snapshots of each publish
    finally:
        stop.touch()
        _, stderr = reader.communicate(timeout=120)
    assert reader.returncode == 0, stderr.decode()[-2000:]
    result = json.loads(out.read_text())
    assert result["error_count"] == 0, result["errors"]
    assert result["mixed"] == []
    assert result["reads"] > 10
    assert len(result["seen"]) >= 2, result  # it really read across publishes
