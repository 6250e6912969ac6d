"""Real loads (ingest, a late file, a re-landed corrected file) kept incrementally, then
`segments rebuild` recomputes everything from staging and finds the same features."""

from __future__ import annotations

import csv
import gzip
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from segments.cli import app
from segments.cli.errors import run_cli
from segments.core.db import connect
from segments.features import build_feature_stage
from segments.settings import Settings

runner = CliRunner()
HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]


def first_customers(landing: Path, n: int) -> list[str]:
    with gzip.open(landing / "demo_transactions" / "transactions.csv.gz", "rt") as handle:
        ids = dict.fromkeys(
            row["CustomerID"] for row in csv.DictReader(handle) if row["CustomerID"]
        )
    return list(ids)[:n]


def write_night(path: Path, rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


def ingest(path: Path) -> None:
    result = runner.invoke(app, ["ingest", "demo_transactions", str(path)])
    assert result.exit_code == 0, result.output


def features(settings: Settings) -> pd.DataFrame:
    with connect(settings, read_only=True) as con:
        return con.execute("select * from features.customer_features order by customer_id").df()


def test_incremental_loads_then_rebuild_give_the_same_features(segments_home: Path) -> None:
    assert runner.invoke(app, ["demo", "--customers", "60", "--seed", "5"]).exit_code == 0
    landing = segments_home / "landing"
    ingest(landing / "demo_transactions")
    assert (
        runner.invoke(app, ["ingest", "demo_customers", str(landing / "demo_customers")]).exit_code
        == 0
    )
    settings = Settings()
    as_of = date(2026, 1, 10)
    with connect(settings) as con:
        build_feature_stage(con, settings, as_of)

    a, b = first_customers(landing, 2)
    night = segments_home / "nights" / "night.csv"
    # a night with a late line of an old day, a return, and a new purchase
    write_night(
        night,
        [
            ["900001", "P-LATE", "LATE LINE", 2, "2025-06-01 10:00:00", 3.5, a, "France"],
            ["C900002", "P-LATE", "LATE LINE", -1, "2026-01-02 09:00:00", 3.5, a, "France"],
            ["900003", "P-NEW", "NEW THING", 1, "2026-01-02 11:00:00", 12.0, b, "Spain"],
        ],
    )
    ingest(night)
    with connect(settings) as con:
        build_feature_stage(con, settings, as_of)
    # the same file re-landed with a correction: its first load is superseded
    write_night(
        night,
        [
            ["900001", "P-LATE", "LATE LINE", 2, "2025-06-01 10:00:00", 3.25, a, "France"],
            ["900003", "P-NEW", "NEW THING", 1, "2026-01-02 11:00:00", 12.0, b, "Spain"],
        ],
    )
    ingest(night)
    with connect(settings, read_only=True) as con:
        statuses = sorted(
            r[0]
            for r in con.execute(
                "select status from ops.loads where path = 'night.csv'"
            ).fetchall()
        )
    assert statuses == ["loaded", "superseded"]
    with connect(settings) as con:
        build_feature_stage(con, settings, as_of)
    incremental = features(settings)

    result = runner.invoke(app, ["rebuild"])
    assert result.exit_code == 0, result.output
    assert "the incremental aggregates were already exact" in result.output
    rebuilt = features(settings)
    pd.testing.assert_frame_equal(incremental, rebuilt, check_exact=True)
    with connect(settings, read_only=True) as con:
        run = con.execute(
            "select flow_name, status from ops.runs where stage = 'rebuild'"
        ).fetchall()
    assert run == [("rebuild", "completed")]

    # with the aggregates damaged behind the pipeline's back, the rebuild says what it fixed
    with connect(settings) as con:
        con.execute(
            "delete from features.agg_customer_summary where customer_id = "
            "(select min(customer_id) from features.agg_customer_summary)"
        )
    result = runner.invoke(app, ["rebuild", "--as-of", as_of.isoformat()])
    assert result.exit_code == 0, result.output
    assert "features.agg_customer_summary" in result.output
    pd.testing.assert_frame_equal(incremental, features(settings), check_exact=True)


def test_rebuild_without_features_asks_for_a_date(segments_home: Path, capsys) -> None:
    with pytest.raises(SystemExit) as raised:  # the console script: one line and exit 2
        run_cli(app, ["rebuild"])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "pass --as-of" in err.splitlines()[0] and "Traceback" not in err
    assert runner.invoke(app, ["rebuild", "--as-of", "2026-02-30"]).exit_code == 2
