"""The watcher: which landing files are ready, the loop that outlives a busy warehouse, and
the watch flow loading files dropped while it runs (under the Prefect test harness)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from segments.core.locks import WarehouseBusyError
from segments.ingest import LoadResult, builtin_mappings
from segments.settings import PROJECT_DIR, Settings
from segments.watch import LandingWatcher, load_event, run_watch

SAMPLE = PROJECT_DIR / "tests" / "fixtures" / "online_retail_sample.csv.gz"


def sample_lines(n: int) -> list[str]:
    """The header and n lines of the UCI Online Retail sample."""
    with gzip.open(SAMPLE, "rt") as handle:
        return [next(handle) for _ in range(n + 1)]


@pytest.fixture
def watcher(tmp_path: Path) -> LandingWatcher:
    return LandingWatcher(tmp_path, builtin_mappings(PROJECT_DIR / "warehouse"))


def test_a_file_is_ready_once_it_stopped_changing(watcher: LandingWatcher, tmp_path: Path):
    folder = tmp_path / "online_retail"
    folder.mkdir()
    target = folder / "a.csv"
    target.write_text("header\n")
    assert watcher.poll() == []  # first sight: not known to be stable yet
    with target.open("a") as handle:
        handle.write("more\n")
    assert watcher.poll() == []  # it grew: still being written
    ready = watcher.poll()
    assert [(f.source, f.path) for f in ready] == [("online_retail", target)]
    assert watcher.poll() == ready  # offered until handled (a busy warehouse retries)
    watcher.mark_handled(ready)
    assert watcher.poll() == []
    target.write_text("rewritten with other content\n")  # a new version is offered again
    watcher.poll()
    assert [f.path for f in watcher.poll()] == [target]


def test_partial_names_empty_files_and_unknown_folders_are_ignored(
    watcher: LandingWatcher, tmp_path: Path
):
    folder = tmp_path / "online_retail"
    (folder / "_rejected").mkdir(parents=True)
    for name in (".upload.csv", "b.csv.part", "c.csv.tmp", "d.csv~", "e.csv.crdownload"):
        (folder / name).write_text("x\n")
    (folder / "empty.csv").touch()
    (folder / "_rejected" / "bad.csv").write_text("x\n")
    (tmp_path / "not_a_source").mkdir()
    (tmp_path / "not_a_source" / "f.csv").write_text("x\n")
    watcher.poll()
    assert watcher.poll() == []
    (folder / "b.csv.part").rename(folder / "b.csv")  # the writer's final rename
    watcher.poll()
    assert [f.path.name for f in watcher.poll()] == ["b.csv"]


def test_the_loop_skips_a_busy_warehouse_and_survives_a_failed_cycle():
    outcomes = iter(["busy", "error", "loaded"])

    def cycle(n: int) -> str:
        step = next(outcomes, "idle")
        if step == "busy":
            raise WarehouseBusyError("nightly run is still running")
        if step == "error":
            raise OSError("disk full")
        return step

    counts = run_watch(cycle, interval_s=0.01, stop=threading.Event(), max_cycles=5)
    assert counts == {"cycles": 5, "idle": 2, "loaded": 1, "busy": 1, "error": 1}


def test_the_loop_stops_when_asked():
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    counts = run_watch(lambda n: "idle", interval_s=0.05, stop=stop)
    assert time.monotonic() - started < 5 and counts["cycles"] >= 2


def test_the_event_of_a_load_names_source_rows_and_load_id():
    loaded = LoadResult("online_retail-abc-1", "online_retail", "a.csv", "loaded", rows_staged=7)
    event = load_event(loaded, "run1")
    assert event["event"] == "segments.load.completed"
    assert event["resource"]["prefect.resource.id"] == "segments.load.online_retail-abc-1"
    assert event["resource"]["segments.rows"] == "7"  # Prefect resource labels are strings
    assert event["payload"] | {"source": "online_retail", "rows": 7} == event["payload"]
    failed = LoadResult("x-1", "online_retail", "b.csv", "failed", message="unreadable")
    assert load_event(failed, "run1")["event"] == "segments.load.failed"
    assert load_event(LoadResult("x-2", "online_retail", "c.csv", "skipped"), "run1") is None


def _loads(settings: Settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(
            "select path, status, rows_read from ops.loads order by started_at"
        ).fetchall()


def test_the_watch_flow_loads_a_file_only_once_it_is_complete(prefect_harness, segments_home):
    from flows.params import WatchParams
    from flows.watch_landing import watch_landing

    lines = sample_lines(400)
    folder = segments_home / "landing" / "online_retail"
    folder.mkdir(parents=True)
    (folder / ".hidden.csv").write_text("".join(lines))

    def slow_writer() -> None:  # 2 s of appends, more often than the watcher polls
        with (folder / "slow.csv").open("w") as handle:
            for start in range(0, len(lines), 20):
                handle.write("".join(lines[start : start + 20]))
                handle.flush()
                time.sleep(0.1)
        (folder / "quick.csv.part").write_text("".join(lines[:1] + lines[201:]))
        (folder / "quick.csv.part").rename(folder / "quick.csv")

    writer = threading.Thread(target=slow_writer)
    writer.start()
    counts = watch_landing(WatchParams(interval_seconds=0.4, max_cycles=20))
    writer.join()
    loads = _loads(Settings())
    assert [row for row in loads if row[0] == "slow.csv"] == [("slow.csv", "loaded", 400)]
    assert [row for row in loads if row[0] == "quick.csv"] == [("quick.csv", "loaded", 200)]
    assert len(loads) == 2 and counts["loaded"] >= 1 and counts["error"] == 0
    with duckdb.connect(str(Settings().warehouse_path), read_only=True) as con:
        runs = con.execute(
            "select distinct flow_name, status from ops.runs where stage = 'run'"
        ).fetchall()
    assert runs == [("watch_landing", "completed")]


def test_a_cycle_that_finds_the_warehouse_busy_loads_the_file_later(
    prefect_harness, segments_home
):
    from flows.params import WatchParams
    from flows.watch_landing import watch_landing

    folder = segments_home / "landing" / "online_retail"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("".join(sample_lines(50)))
    holder = subprocess.Popen(  # another process (a nightly run) holds the lock for 3 s
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import time
                from pathlib import Path
                from segments.core.locks import warehouse_lock
                with warehouse_lock(Path({str(segments_home)!r}), "nightly run X"):
                    print("locked", flush=True)
                    time.sleep(3)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        counts = watch_landing(WatchParams(interval_seconds=0.3, max_cycles=20))
    finally:
        holder.kill()
        holder.wait()
    assert counts["busy"] >= 1 and counts["error"] == 0
    assert _loads(Settings()) == [("a.csv", "loaded", 50)]
