"""The nightly benchmark runs end to end on a tiny history, under a memory cap, as a user
types the commands (ingest, first run, three nights with late lines and a corrected file,
then `segments rebuild`, which must find the nights' aggregates exact), as `make bench` does:
against a long-lived `prefect server`, the last night with Prefect's temporary server.

Structure only: timings depend on the machine and are never asserted. Marked slow: each
command is a process of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from bench.nightly import main
from bench.nightly_data import prepare

LINES = 8_000
pytestmark = pytest.mark.slow


def test_history_and_nights_hold_every_line_once(tmp_path: Path) -> None:
    data = prepare(LINES, 42, tmp_path, nights=2)
    with duckdb.connect() as con:
        count = "select count(*) from read_parquet($p)"
        history = con.execute(count, {"p": data.history_transactions}).fetchone()[0]
        night1, night2 = (
            con.execute(count, {"p": n.transactions[-1]}).fetchone()[0] for n in data.nights
        )
        late = con.execute(
            "select count(*) from read_parquet($p) where left(InvoiceDate, 10) < $d",
            {"p": data.nights[0].transactions[0], "d": data.nights[0].day},
        ).fetchone()[0]
    assert history + night1 + night2 == LINES
    assert late > 0  # night 1 brings late lines of earlier days
    corrected = data.nights[1].transactions[0]
    assert Path(corrected).name == Path(data.nights[0].transactions[0]).name  # re-landed
    assert data.history_as_of == data.nights[0].day  # the first run sees the history only


def test_the_table_runs_end_to_end_under_a_cap(tmp_path: Path) -> None:
    """As `make bench` runs it (--nights 3 --api-port): one `prefect server` for the cold
    start and the first two nights, the last night with Prefect's temporary server; the table
    shows both walls. One bench run for both checks: each costs about 100 s."""
    results = tmp_path / "results"
    main(
        ["--lines", str(LINES), "--workdir", str(tmp_path / "work"), "--results-dir",
         str(results), "--memory-cap", "3G", "--keep", "--nights", "3",
         "--api-port", str(_free_port())]
    )  # fmt: skip
    payload = json.loads((results / f"nightly_{LINES}.json").read_text())
    assert "failed" not in payload, payload.get("failed")
    assert payload["prefect_server"]["url"].startswith("http://127.0.0.1:")
    runs = {s["step"]: s["prefect"] for s in payload["steps"] if "prefect" in s}
    assert runs == {
        "night 1: run": "server",
        "night 2: run": "server",
        "night 3: run (temporary server)": "temporary",
    }
    steps = [step["step"] for step in payload["steps"]]
    assert steps[:2] == ["floor_parquet", "pandas_parquet"]
    assert "first run (trains)" in steps and steps.index("night 2: run") < steps.index(
        "full rebuild"
    )
    first = next(s for s in payload["steps"] if s["step"] == "first run (trains)")
    assert {"ingest", "validate_staging", "features", "train", "report"} <= set(first["stages"])
    assert "cap" in payload["memory_cap"]
    table = (results / f"nightly_{LINES}.md").read_text()
    assert "night 1 increment" in table and "cold pipeline / peer notebook" in table
    assert "night 1 features / full rebuild" in table
    assert "night 1 increment wall, long-lived server" in table
    assert "night 3 increment wall, temporary server" in table
    assert (results / "nightly.md").read_text().count(f"| {LINES:,} |") == 1
    home = tmp_path / "work" / f"nightly-{LINES}" / "home"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        statuses = dict(
            con.execute(
                "select status, count(*) from ops.loads where entity = 'transactions' group by all"
            ).fetchall()
        )
        assert statuses.get("superseded") == 1  # night 2 re-landed night 1's file
        (changed,) = con.execute(
            "select details ->> '$.aggregates_changed' from ops.runs "
            "where flow_name = 'rebuild' and stage = 'rebuild' and status = 'completed'"
        ).fetchone()
    assert json.loads(changed) == []  # the nights kept every aggregate exactly as a rebuild


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
