"""A publish killed with SIGKILL (a real child process): readers see the old publish or the new
one, never a mix, and the marts never run ahead of the serving file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
from publish_world import publish, world_settings

from segments.settings import Settings

SUPPORT = Path(__file__).with_name("publish_world.py")
D1, D2 = date(2026, 1, 1), date(2026, 1, 8)
RUN1 = {"a": 1, "b": 1, "c": 2, "d": 3}
RUN2 = {"a": 2, "b": 1, "c": 2, "e": 3}


def _served(settings: Settings) -> dict[str, bytes]:
    """Every file a reader may open, by path: the serving file, the lake, the exports."""
    files = [
        settings.serving_path,
        *settings.lake_dir.rglob("*"),
        *settings.exports_dir.rglob("*"),
    ]
    return {
        str(p.relative_to(settings.home)): p.read_bytes()
        for p in files
        if p.is_file() and not p.name.startswith(".")
    }


def _marts(settings: Settings) -> tuple[list, list, list]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return tuple(
            con.execute(sql).fetchall()
            for sql in (
                "select customer_id, segment_id, run_id from marts.customer_segments order by 1",
                (
                    "select customer_id, segment_id, valid_from, valid_to from marts.segment_history "
                    "order by all"
                ),
                "select as_of, run_id from marts.publishes order by 1",
            )
        )


def _kill_publish_at(settings: Settings, tmp_path: Path, *, as_of: date, stop_at: str) -> None:
    """Start a publish in a child process, wait until it reaches `stop_at`, SIGKILL it."""
    marker = tmp_path / "reached"
    child = subprocess.Popen(
        [
            sys.executable,
            str(SUPPORT),
            str(settings.home),
            "r2",
            as_of.isoformat(),
            json.dumps(RUN2),
            stop_at,
            str(marker),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180  # importing Prefect is slow on a loaded runner
    while not marker.exists():
        if child.poll() is not None:
            pytest.fail(f"child ended before {stop_at}: {child.communicate()[1].decode()[-2000:]}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"child never reached {stop_at}")
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL


def _served_run(settings: Settings) -> str:
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        (runs,) = con.execute(
            "select string_agg(distinct run_id) from customer_segments"
        ).fetchone()
    return runs


def _lake_runs(settings: Settings) -> set[str]:
    lake = settings.lake_dir / "marts" / "customer_segments"
    with duckdb.connect() as con:
        return {
            r
            for (r,) in con.execute(
                "select distinct run_id from read_parquet($p)", {"p": str(lake / "*.parquet")}
            ).fetchall()
        }


BEFORE_SERVING_SWAP = ["history", "serving:segment_history", "manifest", "swap"]
AFTER_SERVING_SWAP = ["swapped:serving", "commit"]


@pytest.mark.parametrize(
    ("as_of", "stop_at"),
    [
        (D2, "history"),  # inside the marts transaction
        (D1, "serving:segment_history"),  # re-run of D1, serving tmp file half written
        (D2, "manifest"),  # every file written, no manifest yet
        (D2, "swap"),  # every file pending and listed, none renamed yet
        (D2, "swapped:serving"),  # serving.duckdb renamed: this publish happened for readers
        (D1, "commit"),  # every file renamed, the marts not committed
    ],
)
def test_killed_publish_never_leaves_the_marts_ahead_of_the_serving_file(tmp_path, as_of, stop_at):
    from segments.publish import recover_published as recover

    settings = world_settings(tmp_path / "home")
    publish(settings, run_id="r1", as_of=D1, assignments=RUN1)
    served, marts = _served(settings), _marts(settings)

    _kill_publish_at(settings, tmp_path, as_of=as_of, stop_at=stop_at)

    # the marts commit last: whatever the kill point, the warehouse still holds r1
    assert _marts(settings) == marts
    if stop_at in BEFORE_SERVING_SWAP:
        assert _served(settings) == served  # byte for byte: serving.duckdb, Parquet, exports
    else:
        assert _served_run(settings) == "r2"
    done = recover(settings)  # what the next run's preamble does
    assert not list(settings.home.rglob(".*.tmp-*")) and not list(
        settings.home.rglob(".publish-*")
    )
    if stop_at in BEFORE_SERVING_SWAP:
        assert _served(settings) == served and _marts(settings) == marts
        assert "marts_restored_from_serving" not in done
    else:  # finished from the manifest: files renamed, marts set from the serving file
        assert done["finished_publish"] == "r2"
        assert _served_run(settings) == "r2" and _lake_runs(settings) >= {"r2"}
        assert _marts(settings)[2][-1] == (as_of, "r2")
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            assert con.execute(
                "select distinct run_id from marts.customer_segments"
            ).fetchall() == [("r2",)]

    # the next publish serves the new run
    publish(settings, run_id="r2-retry", as_of=as_of, assignments=RUN2)
    assert not list(settings.home.rglob(".*.tmp-*"))
    assert _served_run(settings) == "r2-retry"
    assert _marts(settings)[2][-1][1] == "r2-retry"
