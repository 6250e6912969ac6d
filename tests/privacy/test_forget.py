"""`segments forget` after a demo run: nothing under SEGMENTS_HOME names the customer any
more, the next nightly run still publishes, and a re-landed file does not bring them back."""

from __future__ import annotations

import csv
import gzip
import shutil
import stat
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.forget_customers import forget_customers as forget_flow
from flows.nightly_segmentation import nightly_segmentation
from flows.params import ForgetParams, NightlyParams
from segments.cli import app
from segments.core.pii import customer_pseudonym
from segments.privacy import scan_home

KEY = "test-key-not-secret"  # tests/conftest.py::segments_home


def _customers(landing: Path) -> dict[str, tuple[str, str]]:
    path = landing / "demo_customers" / "customers.csv"
    if not path.exists():  # a run moves loaded landing files to _processed/
        path = landing / "demo_customers" / "_processed" / "customers.csv"
    with path.open() as handle:
        return {r["customer_id"]: (r["name"], r["email"]) for r in csv.DictReader(handle)}


def _query(home: Path, sql: str, file: str = "warehouse.duckdb") -> list[tuple]:
    with duckdb.connect(str(home / file), read_only=True) as con:
        return con.execute(sql).fetchall()


def _pick(home: Path) -> tuple[str, str, str]:
    """A customer with a quarantined line, a unique name, purchases and events."""
    people = _customers(home / "landing")
    names = Counter(name for name, _ in people.values())
    quarantined = {
        r[0]
        for r in _query(
            home,
            "select raw_values ->> 'customer_id' from ops.quarantine where source = 'demo_events'",
        )
    }
    segmented = {r[0] for r in _query(home, "select customer_id from marts.customer_segments")}
    for raw_id, (name, email) in sorted(people.items()):
        hashed = customer_pseudonym(raw_id, KEY.encode())
        if hashed in quarantined and hashed in segmented and names[name] == 1:
            return raw_id, name, email
    pytest.fail("the demo data has no quarantined, segmented customer with a unique name")


def _needles(raw_id: str, name: str, email: str) -> list[str]:
    return [customer_pseudonym(raw_id, KEY.encode()), raw_id, name, email]


def _private(home: Path) -> None:
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_forget_erases_everywhere_and_keeps_the_customer_out(prefect_harness, segments_home):
    home, runner = segments_home, CliRunner()
    assert runner.invoke(app, ["demo", "--customers", "150", "--seed", "5"]).exit_code == 0
    nightly_segmentation(NightlyParams(as_of=date(2026, 1, 1)))
    raw_id, name, email = _pick(home)
    needles = _needles(raw_id, name, email)
    before = scan_home(home, needles)
    places = {hit.place.split(":")[0] for hit in before}
    assert {"warehouse.duckdb", "serving.duckdb", "reports/latest/index.html"} <= places
    assert any(p.startswith("lake/raw/") for p in places) and any(
        p.startswith("landing/") for p in places
    )
    original = home.parent / "original_landing"
    shutil.copytree(home / "landing", original)
    served = _query(home, "select count(*) from customer_segments", "serving.duckdb")[0][0]

    result = runner.invoke(app, ["forget", f"{raw_id}.0"])  # normalised as ingest does

    assert result.exit_code == 0, result.output
    assert scan_home(home, needles) == []
    erased = dict(
        _query(home, "select place, rows from ops.erasures where action = 'rows_deleted'")
    )
    for place in ("ops.quarantine", "raw.demo_events", "staging.stg_transactions",
                  "features.customer_features", "marts.customer_segments",
                  "marts.segment_history", "serving.duckdb:main.customer_segments",
                  "landing/demo_customers/_processed/customers.csv"):  # fmt: skip
        assert erased.get(place, 0) >= 1, place
    assert erased["total"] == sum(v for k, v in erased.items() if k != "total")
    assert _query(home, "select count(*) from customer_segments", "serving.duckdb") == [
        (served - 1,)
    ]
    assert _query(home, "select count(*) from ops.suppressed_customers") == [(1,)]
    assert _query(home, "select status from ops.runs where flow_name = 'forget_customers'") == [
        ("completed",),
        ("completed",),
    ]

    # re-landed before the next night: an old copy of the transactions, and a new export
    # with the customer in it (and another customer's change)
    shutil.copy(
        original / "demo_transactions" / "_processed" / "transactions.csv.gz",
        home / "landing" / "demo_transactions" / "resent.csv.gz",
    )
    with (original / "demo_customers" / "_processed" / "customers.csv").open() as handle:
        lines = handle.readlines()
    other = next(line for line in lines[1:] if not line.startswith(raw_id + ","))
    mine = next(line for line in lines if line.startswith(raw_id + ","))
    update = home / "landing" / "demo_customers" / "update.csv.gz"
    update.write_bytes(gzip.compress((lines[0] + mine + other.replace(",", ",x", 1)).encode()))
    nightly_segmentation(NightlyParams(as_of=date(2026, 1, 2)))  # the rest still works
    assert scan_home(home, needles) == []
    assert _query(home, "select count(*) from customer_segments", "serving.duckdb") == [
        (served - 1,)
    ]
    changed = _query(
        home,
        "select line_number from staging.customer_versions where load_id in "
        "(select load_id from ops.loads where path = 'update.csv.gz' and rows_read > 0)",
    )
    assert changed == [(3,)]  # the other customer's change in the same file was staged
    ingest_erasures = _query(
        home, "select count(*) from ops.erasures where trigger = 'ingest' and rows > 0"
    )
    assert ingest_erasures[0][0] >= 1
    _private(home)

    # the forget flow, with the ids in a file (kept out of Prefect's stored parameters)
    ids_file = home.parent / "ids.txt"
    second = next(i for i in sorted(_customers(original)) if i and i != raw_id)
    ids_file.write_text(second + "\n")
    summary = forget_flow(ForgetParams(ids_file=str(ids_file)))
    assert summary["customers"] == 1 and summary["rows_deleted"] > 0
    assert scan_home(home, _needles(second, *_customers(original)[second])[:2]) == []
