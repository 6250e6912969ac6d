"""One writer at a time, every failure recorded, and crashed runs found by the next run.

Real processes hold the lock and the DuckDB file: a second writer waits (saying who holds
the warehouse), then fails naming the holder; a busy warehouse is journaled and replayed;
`segments status` works while a run holds the warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from processes import HOLDER, OPEN_FILE
from processes import start as _start

from segments.core import journal
from segments.core.db import DatabaseBusyError, connect
from segments.core.errors import BusyError
from segments.core.locks import WarehouseBusyError, read_holder, warehouse_lock
from segments.core.runs import open_run
from segments.settings import Settings


def _settings(home: Path, **kw) -> Settings:
    return Settings(home=home, pii_key="k" * 32, **kw)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def holder(home: Path, tmp_path: Path) -> Iterator[subprocess.Popen]:
    child = _start(HOLDER, tmp_path, str(home), "600")
    yield child
    child.kill()
    child.wait()


def _runs(settings: Settings) -> dict[tuple[str, str], tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {
            (r, s): (st, m, pid)
            for r, s, st, m, pid in con.execute(
                "select run_id, stage, status, message, pid from ops.runs"
            ).fetchall()
        }


def test_a_second_writer_waits_naming_the_holder_then_fails_and_is_recorded(home, holder, caplog):
    settings = _settings(home, lock_timeout_seconds=2)
    held = read_holder(home)
    assert held.run_id == "holder-run" and held.stage == "features" and held.pid == holder.pid
    busy = r"holder-run \(pid \d+ on .*stage features\)"
    with (
        pytest.raises(WarehouseBusyError, match=busy),
        open_run(settings, "second", "ingest_source"),
    ):
        pytest.fail("ran without the lock")
    assert "waiting for the warehouse" in caplog.text and "holder-run" in caplog.text
    (entry,) = journal.pending(home)  # the warehouse was busy: the failure went to the journal
    assert entry[1]["run_id"] == "second" and entry[1]["status"] == "failed"

    holder.kill()  # the holder dies mid-stage (kill -9)
    holder.wait()
    with open_run(settings, "third", "ingest_source"):
        pass
    runs = _runs(settings)
    assert runs[("second", "run")][0] == "failed"
    assert "WarehouseBusyError" in runs[("second", "run")][1]
    assert journal.pending(home) == []  # replayed once
    for stage in ("run", "features"):  # the killed holder's rows: crashed, with why
        status, message, pid = runs[("holder-run", stage)]
        assert status == "crashed" and pid == holder.pid
        assert "ended without finishing" in message and "found by run third" in message
    assert runs[("third", "run")][0] == "completed"


def test_a_writer_waits_for_the_holder_and_then_runs(home, tmp_path):
    child = _start(HOLDER, tmp_path, str(home), "3")
    started = time.monotonic()
    with open_run(_settings(home, lock_timeout_seconds=120), "after", "ingest_source"):
        waited = time.monotonic() - started
    child.wait()
    assert child.returncode == 0 and waited > 1
    assert _runs(_settings(home))[("holder-run", "run")][0] == "completed"


def test_a_process_holding_the_warehouse_file_is_named_and_the_failure_recorded(home, tmp_path):
    settings = _settings(home)
    with open_run(settings, "first", "nightly_segmentation"):
        pass
    child = _start(OPEN_FILE, tmp_path, str(settings.warehouse_path), "600")
    try:
        with (
            pytest.raises(
                DatabaseBusyError, match=rf"held open by another process .*PID {child.pid}"
            ),
            open_run(settings, "blocked", "nightly_segmentation"),
        ):
            pytest.fail("opened a warehouse another process holds")
    finally:
        child.kill()
        child.wait()
    assert [row["run_id"] for _, row in journal.pending(home)] == ["blocked"]
    with open_run(settings, "next", "nightly_segmentation"):
        pass
    status, message, _ = _runs(settings)[("blocked", "run")]
    assert status == "failed" and "held open by another process" in message


def test_status_during_a_run_reads_the_snapshot_never_the_warehouse(home, tmp_path):
    from segments.report import write_status_snapshot

    settings = _settings(home)
    with open_run(settings, "earlier", "nightly_segmentation", finish=write_status_snapshot):
        pass
    child = _start(HOLDER, tmp_path, str(home), "600")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "segments.cli", "status"],
            env={**os.environ, "SEGMENTS_HOME": str(home), "SEGMENTS_PII_KEY": "k" * 32},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert child.poll() is None  # the run was not disturbed
    finally:
        child.kill()
        child.wait()
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "Running now: nightly_segmentation run holder-run" in done.stdout
    assert "stage features" in done.stdout and "earlier" in done.stdout
    assert "as of the end of the previous run" in done.stdout


def test_busy_errors_are_transient_and_carry_exit_75():
    assert WarehouseBusyError.exit_code == DatabaseBusyError.exit_code == 75
    assert issubclass(DatabaseBusyError, BusyError) and BusyError.transient


def test_the_lock_is_reentrant_and_says_nothing_once_released(home):
    with warehouse_lock(home, "outer", run_id="o"), warehouse_lock(home, "inner"):
        assert json.loads((home / ".warehouse.lock").read_text())["owner"] == "outer"
    assert read_holder(home) is None


def _order_setting(settings: Settings) -> bool:
    with connect(settings) as con:
        return con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]


def _written_elsewhere(settings: Settings) -> list[int]:
    """The run's rows as another process sees them, opening the file read-write (refused
    while anything in this process still holds it)."""
    probe = (
        "import sys, duckdb\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "print([x for (x,) in con.execute('select x from kept order by x').fetchall()])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(settings.warehouse_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-1000:]
    return json.loads(done.stdout.strip())


@pytest.mark.parametrize("keep_open", [True, False])
def test_keep_open_holds_one_database_for_the_run_then_closes_it_before_the_lock(home, keep_open):
    """keep_open: every connect of the run joins one open database (a global setting made in
    one stage is still there in the next; without it each connect loads the file afresh),
    and the file is closed, its writes checkpointed, before the lock is released, also when
    the run fails."""
    settings = _settings(home)
    with open_run(settings, "kept", "nightly_segmentation", keep_open=keep_open) as (ctx, _):
        with ctx.stage("features"), connect(settings) as con:
            con.execute("create table kept as select 1 as x")
            con.execute("set global preserve_insertion_order = false")
        assert _order_setting(settings) is (not keep_open)
    wal = settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal")
    assert not wal.exists()
    assert _written_elsewhere(settings) == [1]
    assert _order_setting(settings) is True  # closed: the next open starts afresh

    with (
        pytest.raises(RuntimeError, match="stage broke"),
        open_run(settings, "kept-failed", "nightly_segmentation", keep_open=keep_open) as (
            ctx,
            _,
        ),
        ctx.stage("features"),
        connect(settings) as con,
    ):
        con.execute("insert into kept values (2)")
        raise RuntimeError("stage broke")
    assert _written_elsewhere(settings) == [1, 2]
    assert _runs(settings)[("kept-failed", "run")][0] == "failed"
