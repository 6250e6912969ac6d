"""Built-in mappings on real samples, and every file format through the same mapping."""

from __future__ import annotations

import csv
import gzip
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from segments.core.sql import apply_schema
from segments.ingest.files import ingest_file
from segments.ingest.sources import builtin_mappings

PROJECT = Path(__file__).resolve().parents[2]
SQL_DIR = PROJECT / "warehouse"
FIXTURES = PROJECT / "tests" / "fixtures"
RETAIL = FIXTURES / "online_retail_sample.csv.gz"
KEY = b"test-key"
STAGED = (
    "select invoice_id, product_code, description, quantity, unit_price, invoiced_at, "
    "customer_id, country from staging.stg_transactions order by invoice_id, line_number"
)


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    apply_schema(con, SQL_DIR)
    return con


def _ingest(path: Path, source: str = "online_retail", **changes: object):
    con = _con()
    mapping = builtin_mappings(SQL_DIR)[source]
    if changes:
        mapping = mapping.model_copy(update=changes, deep=True)
    return con, ingest_file(con, mapping, path, run_id="t", pii_key=KEY)


def _rows(limit: int | None = None) -> tuple[list[str], list[list[str]]]:
    with gzip.open(RETAIL, "rt", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    return header, rows[:limit] if limit else rows


def test_online_retail_sample_counts_match_a_pandas_reference():
    con, result = _ingest(RETAIL)
    # 1,877 lines: 25 stock write-offs (negative, not C), 3 "Adjust bad debt" A-invoices,
    # 38 exact duplicate lines (checked with pandas DataFrame.duplicated), 231 staged guests
    assert (
        result.rows_read,
        result.rows_staged,
        result.rows_quarantined,
        result.duplicates,
        result.rows_without_customer,
    ) == (1877, 1811, 28, 38, 231)
    reasons = dict(
        con.execute("select reason_code, count(*) from ops.quarantine group by 1").fetchall()
    )
    assert reasons == {"negative_quantity_not_cancellation": 25, "pattern_mismatch": 3}
    cancellations, returns_value = con.execute(
        "select count(*), sum(line_revenue) from staging.stg_transactions where is_cancellation"
    ).fetchone()
    assert cancellations == 132 and returns_value < 0  # 134 C-lines, 2 of them duplicates
    raw = con.execute("select count(*) from raw.online_retail").fetchone()[0]
    assert raw == 1877


def test_float_and_integer_customer_ids_get_one_pseudonym(tmp_path):
    header, rows = _rows(50)
    plain = tmp_path / "plain.csv"
    with plain.open("w", newline="") as handle:
        csv.writer(handle).writerows(
            [header] + [[*r[:6], r[6].removesuffix(".0"), r[7]] for r in rows]
        )
    con_a, _ = _ingest(RETAIL)
    con_b, _ = _ingest(plain)
    ids_a = {
        r[0]
        for r in con_a.execute(
            "select customer_id from staging.stg_transactions where line_number <= 51"
        ).fetchall()
    }
    ids_b = {
        r[0]
        for r in con_b.execute(
            "select distinct customer_id from staging.stg_transactions"
        ).fetchall()
    }
    assert ids_b == ids_a and "17850" not in str(ids_b)


def _write_variant(tmp_path: Path, fmt: str, limit: int = 300) -> Path:
    """The first `limit` sample lines in another format, as the UCI original or a tool would."""
    header, rows = _rows(limit)
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(header)
        for r in rows:  # the UCI .xlsx holds real dates and numbers, CustomerID as a number
            sheet.append(
                [
                    r[0],
                    r[1],
                    r[2] or None,
                    int(r[3]),
                    datetime.strptime(r[4], "%Y-%m-%d %H:%M:%S"),
                    float(r[5]),
                    float(r[6]) if r[6] else None,
                    r[7],
                ]
            )
        path = tmp_path / "retail.xlsx"
        book.save(path)
        return path
    if fmt == "us_dates":
        path = tmp_path / "retail_us.csv"
        with path.open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(header)
            for r in rows:
                at = datetime.strptime(r[4], "%Y-%m-%d %H:%M:%S")
                out.writerow([*r[:4], f"{at.month}/{at.day}/{at.year} {at.hour}:{at:%M}", *r[5:]])
        return path
    source = tmp_path / "retail.csv"
    with source.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    if fmt == "csv":
        return source
    con = duckdb.connect()
    relation = f"read_csv('{source}', all_varchar = true)"
    path = tmp_path / f"retail.{fmt}"
    if fmt == "parquet":
        con.execute(f"copy (select * from {relation}) to '{path}' (format parquet)")
    elif fmt == "jsonl":
        con.execute(f"copy (select * from {relation}) to '{path}' (format json)")
    elif fmt == "tsv":  # tab separated, no header: columns are column0..column7
        con.execute(f"copy (select * from {relation}) to '{path}' (delimiter '\t', header false)")
    return path


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "xlsx", "us_dates", "tsv"])
def test_every_format_stages_the_same_rows_as_csv(tmp_path, fmt):
    con_csv, expected = _ingest(_write_variant(tmp_path, "csv"))
    changes: dict[str, object] = {}
    if fmt == "tsv":
        mapping = builtin_mappings(SQL_DIR)["online_retail"]
        names = [
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ]
        columns = {
            t: c.model_copy(update={"source": f"column{names.index(c.source)}"})
            for t, c in mapping.columns.items()
        }
        changes = {
            "columns": columns,
            "csv": mapping.csv.model_copy(update={"delimiter": "\t", "header": False}),
        }
    con, result = _ingest(_write_variant(tmp_path, fmt), **changes)
    assert result.status == "loaded", result.message
    counts = (result.rows_read, result.rows_staged, result.rows_quarantined, result.duplicates)
    assert counts == (
        expected.rows_read,
        expected.rows_staged,
        expected.rows_quarantined,
        expected.duplicates,
    )
    assert con.execute(STAGED).fetchall() == con_csv.execute(STAGED).fetchall()


def test_mall_customers_mapping():
    con, result = _ingest(FIXTURES / "mall_customers.csv", source="mall_customers")
    assert (result.rows_read, result.rows_staged, result.rows_quarantined, result.duplicates) == (
        200,
        200,
        0,
        0,
    )
    stats = con.execute(
        "select count(distinct customer_id), count(*) filter (where gender = 'female'), "
        "min(annual_income), max(annual_income), min(spending_score), "
        "max(spending_score), min(age_years), max(age_years) from staging.customer_versions"
    ).fetchone()
    # the published table: 112 women, income 15-137 k$, score 1-99, age 18-70
    assert stats == (200, 112, 15000.0, 137000.0, 1, 99, 18, 70)
    raw_ids = con.execute('select "CustomerID" from raw.mall_customers').fetchall()
    assert ("0001",) not in raw_ids and len(raw_ids[0][0]) == 24


def test_mall_customers_reload_is_all_duplicates(tmp_path):
    con, _ = _ingest(FIXTURES / "mall_customers.csv", source="mall_customers")
    copy = tmp_path / "mall_copy.csv"
    copy.write_text((FIXTURES / "mall_customers.csv").read_text() + "\n")
    mapping = builtin_mappings(SQL_DIR)["mall_customers"]
    again = ingest_file(con, mapping, copy, run_id="t2", pii_key=KEY)
    assert (again.rows_read, again.rows_staged, again.duplicates) == (200, 0, 200)
