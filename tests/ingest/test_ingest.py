"""Ingest: every line ends staged, quarantined with a reason, or counted as a duplicate."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from segments.core.sql import apply_schema
from segments.ingest.files import ingest_file
from segments.ingest.sources import Column, builtin_mappings

PROJECT = Path(__file__).resolve().parents[2]
SQL_DIR = PROJECT / "warehouse"
KEY = b"test-key"
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
GOOD = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    apply_schema(con, SQL_DIR)
    return con


def _load(con, tmp_path: Path, body: str, name: str = "t.csv", source="demo_transactions"):
    path = tmp_path / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "wt") as handle:
        handle.write(body)
    mapping = builtin_mappings(SQL_DIR)[source]
    return ingest_file(con, mapping, path, run_id="test", pii_key=KEY)


def _reasons(con) -> dict[int, str]:
    return dict(con.execute("select line_number, reason_code from ops.quarantine").fetchall())


def test_rows_are_conserved_and_bad_rows_quarantined_with_reasons(con, tmp_path):
    body = (
        HEADER
        + GOOD
        + GOOD
        + (
            "536366,22633,HAND WARMER,x3,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n"
            "536367,22633,HAND WARMER,6,2010-13-01 08:28:00,1.85,,United Kingdom\n"
            "C536368,22633,HAND WARMER,-2,2010-12-02 08:28:00,1.85,13047,France\n"
            "536369,1,too,many,fields,here,1,2,3\n"
            ",22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,,United Kingdom\n"
            "536370,22633,HAND WARMER,6,2010-12-01 08:28:00,-1.85,,United Kingdom\n"
            "536371,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,,United Kingdom\n"
        )
    )
    result = _load(con, tmp_path, body)
    assert result.status == "loaded"
    assert (result.rows_read, result.rows_staged, result.rows_quarantined, result.duplicates) == (
        9,
        3,
        5,
        1,
    )
    assert result.rows_read == result.rows_staged + result.rows_quarantined + result.duplicates
    assert result.rows_without_customer == 1
    assert _reasons(con) == {
        4: "invalid_integer",
        5: "invalid_timestamp",
        7: "malformed_line",
        8: "missing_required",
        9: "out_of_range",
    }
    staged = con.execute(
        "select line_number, is_cancellation, line_revenue from "
        "staging.stg_transactions order by 1"
    ).fetchall()
    assert staged == [(2, False, 15.3), (6, True, -3.7), (10, False, 11.1)]


def test_same_file_twice_loads_nothing_the_second_time(con, tmp_path):
    first = _load(con, tmp_path, HEADER + GOOD)
    second = _load(con, tmp_path, HEADER + GOOD)
    assert (first.status, second.status) == ("loaded", "skipped")
    assert con.execute("select count(*) from staging.stg_transactions").fetchone()[0] == 1
    assert con.execute("select count(*) from raw.demo_transactions").fetchone()[0] == 1


def test_changed_file_replaces_its_earlier_version(con, tmp_path):
    _load(con, tmp_path, HEADER + GOOD)
    changed = GOOD.replace(",6,", ",7,")
    result = _load(con, tmp_path, HEADER + changed + GOOD.replace("536365", "536399"))
    assert result.status == "loaded" and result.rows_staged == 2
    quantities = con.execute(
        "select invoice_id, quantity from staging.stg_transactions order by 1"
    ).fetchall()
    assert quantities == [("536365", 7), ("536399", 6)]
    statuses = con.execute("select status from ops.loads order by started_at").fetchall()
    assert [s for (s,) in statuses] == ["superseded", "loaded"]


def test_overlapping_files_do_not_duplicate_lines(con, tmp_path):
    _load(con, tmp_path, HEADER + GOOD, name="day1.csv")
    result = _load(
        con, tmp_path, HEADER + GOOD + GOOD.replace("536365", "536400"), name="day2.csv"
    )
    assert (result.rows_staged, result.duplicates) == (1, 1)
    assert con.execute("select count(*) from staging.stg_transactions").fetchone()[0] == 2


def test_pii_never_reaches_the_warehouse(con, tmp_path):
    body = (
        "customer_id,name,email,gender,birth_date,annual_income,country,signup_date\n"
        "C0000001,Jane Smith,jane.smith@example.com,F,1980-02-03,42000,United Kingdom,"
        "2024-01-05\n"
    )
    result = _load(con, tmp_path, body, name="customers.csv", source="demo_customers")
    assert result.rows_staged == 1
    dump = str(con.execute("select * from raw.demo_customers").fetchall()) + str(
        con.execute("select * from staging.customer_versions").fetchall()
    )
    for secret in ("Jane", "Smith", "jane.smith@example.com", "C0000001"):
        assert secret not in dump


def test_missing_required_column_fails_the_file_with_a_clear_message(con, tmp_path):
    body = HEADER.replace("Quantity,", "") + "536365,85123A,X,2010-12-01 08:26:00,2.55,1,UK\n"
    result = _load(con, tmp_path, body)
    assert result.status == "failed"
    assert "missing required column(s) ['Quantity']" in result.message
    assert "t.csv" in result.message
    assert con.execute("select count(*) from staging.stg_transactions").fetchone()[0] == 0


def test_corrupt_gzip_fails_only_that_file(con, tmp_path):
    path = tmp_path / "broken.csv.gz"
    lines = "".join(GOOD.replace("536365", str(600000 + i)) for i in range(2000))
    whole = gzip.compress((HEADER + lines).encode())
    path.write_bytes(whole[: len(whole) // 2])
    mapping = builtin_mappings(SQL_DIR)["demo_transactions"]
    result = ingest_file(con, mapping, path, run_id="t", pii_key=KEY)
    assert result.status == "failed" and "broken.csv.gz" in result.message
    good = _load(con, tmp_path, HEADER + GOOD)
    assert good.status == "loaded"


def test_a_load_failing_part_way_leaves_no_partial_rows(con, tmp_path):
    # an expression that throws on the third line (a cast, not a try_cast) fails the typing
    # step after the raw rows were written inside the transaction. (Until 0.3 this test used
    # an optional invoice_id; entity-required targets are now always required.)
    mapping = builtin_mappings(SQL_DIR)["demo_transactions"]
    columns = dict(mapping.columns)
    columns["description"] = Column(expression="cast(Quantity as integer)::varchar")
    mapping = mapping.model_copy(update={"columns": columns})
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + GOOD.replace("536365", "") + GOOD.replace(",6,", ",x,"))
    result = ingest_file(con, mapping, path, run_id="t", pii_key=KEY)
    assert result.status == "failed" and "nothing was staged" in result.message
    for table in ("staging.stg_transactions", "ops.quarantine"):
        assert con.execute(f"select count(*) from {table}").fetchone()[0] == 0
    raw = con.execute("select count(*) from duckdb_tables() where schema_name = 'raw'")
    assert raw.fetchone()[0] == 0
    assert con.execute("select status from ops.loads").fetchall() == [("failed",)]


def test_customer_id_is_the_keyed_pseudonym_of_the_normalised_id(con, tmp_path):
    from segments.core.pii import pseudonym

    _load(con, tmp_path, HEADER + GOOD)
    staged = con.execute("select customer_id from staging.stg_transactions").fetchone()[0]
    assert staged == pseudonym("17850", KEY) and staged != pseudonym("17850", b"other-key")


def test_production_refuses_to_run_without_a_pii_key(tmp_path, monkeypatch):
    from segments.core.pii import MissingPiiKeyError, load_key
    from segments.settings import Settings

    monkeypatch.delenv("SEGMENTS_PII_KEY", raising=False)
    with pytest.raises(MissingPiiKeyError, match="SEGMENTS_PII_KEY"):
        load_key(Settings(home=tmp_path, environment="production"))
    assert not (tmp_path / "pii.key").exists()
