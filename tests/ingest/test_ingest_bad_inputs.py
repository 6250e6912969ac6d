"""Crafted bad files: each one's exact counts, reason codes and row conservation."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from segments.core.sql import apply_schema
from segments.ingest.files import ingest_file
from segments.ingest.sources import builtin_mappings

SQL_DIR = Path(__file__).resolve().parents[2] / "warehouse"
KEY = b"test-key"
H = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
G = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
G2 = "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n"
INJECTION = "'; drop table staging.stg_transactions; --"


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def _truncated_gz() -> bytes:
    whole = _gz(H + "".join(G.replace("536365", str(600000 + i)) for i in range(3000)))
    return whole[: len(whole) // 2]


@dataclass
class Case:
    """One bad input: the bytes, how the mapping reads them, and what must happen."""

    body: bytes
    counts: tuple[int, int, int, int] | None  # read, staged, quarantined, duplicates
    reasons: dict[int, str] = field(default_factory=dict)
    name: str = "t.csv"
    csv: dict[str, object] = field(default_factory=dict)
    failed_with: str = ""


CASES: dict[str, Case] = {
    "utf8_file_with_a_latin1_byte": Case(
        (H + G + "536367,22633,CAF\xc9 MUG,6,2010-12-01 08:28:00,1.85,,France\n").encode(
            "latin-1"
        ),
        (2, 1, 1, 0),
        {3: "invalid_encoding"},
    ),
    "latin1_file_declared_latin1": Case(
        (H + "536367,22633,CAF\xc9 \xa3 MUG,6,2010-12-01 08:28:00,1.85,,France\n").encode(
            "latin-1"
        ),
        (1, 1, 0, 0),
        csv={"encoding": "latin-1"},
    ),
    "semicolon_delimiter_and_decimal_comma": Case(
        (H + G).replace(",", ";").replace("2;55", "2,55").encode(),
        (1, 1, 0, 0),
        csv={"delimiter": ";", "decimal": ","},
    ),
    "tab_separated_without_header": Case(
        G.replace(",", "\t").encode(),
        None,
        name="t.tsv",
        csv={"delimiter": "\t", "header": False},
        failed_with="missing required column(s) ['InvoiceNo'",
    ),
    "wrong_delimiter_declared": Case(
        (H + G).replace(",", ";").encode(), None, failed_with="missing required column(s)"
    ),
    "missing_required_column": Case(
        (H.replace("Quantity,", "") + "536365,85123A,X,2010-12-01 08:26:00,2.55,1,UK\n").encode(),
        None,
        failed_with="missing required column(s) ['Quantity']",
    ),
    "missing_optional_column": Case(
        (H.replace(",Country", "") + G.replace(",United Kingdom", "")).encode(), (1, 1, 0, 0)
    ),
    "impossible_date": Case(
        (H + G.replace("2010-12-01", "2010-02-30")).encode(),
        (1, 0, 1, 0),
        {2: "invalid_timestamp"},
    ),
    "date_before_floor_and_in_future": Case(
        (
            H + G.replace("2010-12-01", "1999-12-31") + G2.replace("2010-12-01", "2999-01-01")
        ).encode(),
        (2, 0, 2, 0),
        {2: "implausible_date", 3: "implausible_date"},
    ),
    "negative_price": Case(
        (H + G.replace(",2.55,", ",-2.55,")).encode(), (1, 0, 1, 0), {2: "out_of_range"}
    ),
    "absurd_quantity": Case(
        (H + G.replace(",6,", ",10000000,")).encode(), (1, 0, 1, 0), {2: "out_of_range"}
    ),
    "fractional_quantity": Case(
        (H + G.replace(",6,", ",6.5,")).encode(), (1, 0, 1, 0), {2: "invalid_integer"}
    ),
    "zero_quantity": Case(
        (H + G.replace(",6,", ",0,")).encode(), (1, 0, 1, 0), {2: "zero_quantity"}
    ),
    "negative_quantity_not_cancellation": Case(
        (H + G.replace(",6,", ",-6,")).encode(),
        (1, 0, 1, 0),
        {2: "negative_quantity_not_cancellation"},
    ),
    "cancellation_with_positive_quantity": Case(
        (H + G.replace("536365", "C536365")).encode(),
        (1, 0, 1, 0),
        {2: "cancellation_positive_quantity"},
    ),
    "empty_required_value": Case(
        (H + G.replace("536365", "")).encode(), (1, 0, 1, 0), {2: "missing_required"}
    ),
    "exact_duplicates": Case((H + G + G2 + G + G).encode(), (4, 2, 0, 2)),
    "same_line_differently_written": Case(
        (H + G + G.replace("17850.0", "17850").replace(",6,", ", 6 ,")).encode(), (2, 1, 0, 1)
    ),
    "truncated_gzip": Case(
        _truncated_gz(), None, name="t.csv.gz", failed_with="gzip file is corrupt or truncated"
    ),
    "truncated_plain_csv": Case((H + G + G2[:30]).encode(), (2, 1, 1, 0), {3: "malformed_line"}),
    "empty_file": Case(b"", None, failed_with="the file is empty"),
    "header_only": Case(H.encode(), None, failed_with="has no data rows"),
    "injection_looking_description": Case(
        (H + G.replace("WHITE HEART", f'"{INJECTION}"')).encode(), (1, 1, 0, 0)
    ),
    "unterminated_quote": Case(
        (
            H + G + G2.replace("HAND WARMER", '"HAND WARMER') + G.replace("536365", "536399")
        ).encode(),
        (2, 1, 1, 0),
        {3: "malformed_line"},
    ),
    # ^ an open quote runs to the end of the file: the last line is inside the rejected record
    "too_many_fields": Case(
        (H + G + "536369,1,too,many,fields,here,1,2,3\n").encode(),
        (2, 1, 1, 0),
        {3: "malformed_line"},
    ),
    "adjacent_malformed_lines_keep_line_numbers": Case(
        (H + G + "x,y\n" + "1,2,3\n" + G2 + "only,two\n" + G.replace(",6,", ",0,")).encode(),
        (6, 2, 4, 0),
        {3: "malformed_line", 4: "malformed_line", 6: "malformed_line", 7: "zero_quantity"},
    ),
    "utf8_bom_and_crlf": Case(
        ("\ufeff" + H + G + G2).replace("\n", "\r\n").encode(), (2, 2, 0, 0)
    ),
    "quoted_delimiter_and_padding": Case(
        (H + G.replace("WHITE HEART", '"WHITE, HEART"').replace(",6,", ",  6  ,")).encode(),
        (1, 1, 0, 0),
    ),
    "nan_price": Case(
        (H + G.replace(",2.55,", ",NaN,")).encode(), (1, 0, 1, 0), {2: "non_finite"}
    ),
    "infinite_price": Case(
        (H + G.replace(",2.55,", ",inf,") + G2.replace(",1.85,", ",-Infinity,")).encode(),
        (2, 0, 2, 0),
        {2: "non_finite", 3: "non_finite"},
    ),
    "multi_character_delimiter": Case(
        (H + G).replace(",", "||").encode(), (1, 1, 0, 0), csv={"delimiter": "||"}
    ),
    "preamble_lines_skipped": Case(
        ("Export of 2010-12-01\n\n" + H + G).encode(),
        (1, 1, 0, 0),
        csv={"skip_rows": 2},
    ),
    "preamble_lines_not_skipped": Case(
        ("Export of 2010-12-01\n" + H + G).encode(), None, failed_with="missing required column"
    ),
    "undeclared_columns": Case(
        (H.strip() + ",Email\n" + G.strip() + ",jane@example.com\n").encode(), (1, 1, 0, 0)
    ),
    "non_zip_xlsx": Case(
        b"InvoiceNo,StockCode\n1,2\n", None, name="t.xlsx", failed_with="cannot be read as xlsx"
    ),
    "truncated_zip_xlsx": Case(
        b"PK\x03\x04\x14\x00" + b"\x00" * 40,
        None,
        name="t.xlsx",
        failed_with="cannot be read as xlsx",
    ),
    "corrupt_parquet": Case(
        b"PAR1" + b"\x00garbage" * 50,
        None,
        name="t.parquet",
        failed_with="cannot be read as parquet",
    ),
}


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    apply_schema(con, SQL_DIR)
    return con


@pytest.mark.parametrize("case_id", CASES)
def test_bad_input(con: duckdb.DuckDBPyConnection, tmp_path: Path, case_id: str) -> None:
    case = CASES[case_id]
    path = tmp_path / case.name
    path.write_bytes(case.body)
    mapping = builtin_mappings(SQL_DIR)["demo_transactions"]
    if case.csv:
        mapping = mapping.model_copy(
            update={"csv": mapping.csv.model_copy(update=case.csv)}, deep=True
        )
    result = ingest_file(con, mapping, path, run_id="bad", pii_key=KEY)
    staged = con.execute("select count(*) from staging.stg_transactions").fetchone()[0]
    if case.counts is None:
        assert result.status == "failed"
        assert case.failed_with in result.message and case.name in result.message
        assert staged == 0
        assert con.execute("select status from ops.loads").fetchall() == [("failed",)]
        return
    assert result.status == "loaded", result.message
    counts = (result.rows_read, result.rows_staged, result.rows_quarantined, result.duplicates)
    assert counts == case.counts
    assert result.rows_read == result.rows_staged + result.rows_quarantined + result.duplicates
    assert staged == result.rows_staged
    reasons = dict(con.execute("select line_number, reason_code from ops.quarantine").fetchall())
    assert reasons == case.reasons


def test_injection_looking_text_is_stored_verbatim(con, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(H + G.replace("WHITE HEART", f'"{INJECTION}"'))
    mapping = builtin_mappings(SQL_DIR)["demo_transactions"]
    ingest_file(con, mapping, path, run_id="bad", pii_key=KEY)
    stored = con.execute("select description from staging.stg_transactions").fetchall()
    assert stored == [(INJECTION,)]
    assert con.execute("select count(*) from raw.demo_transactions").fetchone()[0] == 1


def test_latin1_text_is_decoded(con, tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(
        (H + "536367,22633,CAF\xc9 \xa3 MUG,6,2010-12-01 08:28:00,1.85,,FR\n").encode("latin-1")
    )
    mapping = builtin_mappings(SQL_DIR)["demo_transactions"]
    mapping = mapping.model_copy(
        update={"csv": mapping.csv.model_copy(update={"encoding": "latin-1"})}
    )
    ingest_file(con, mapping, path, run_id="bad", pii_key=KEY)
    assert con.execute("select description from staging.stg_transactions").fetchall() == [
        ("CAFÉ £ MUG",)
    ]


def _events_mapping():
    return builtin_mappings(SQL_DIR)["demo_events"]


def test_json_lines_are_quarantined_one_line_at_a_time(con, tmp_path):
    good = (
        '{"customer_id": "C1", "session_id": "s1", "event_type": "view", '
        '"event_ts": "2024-01-01 10:00:00", "channel": "web"}'
    )
    lines = [
        good,
        '{"customer_id": "C2"',  # cut short
        "not json at all",
        "[1, 2]",
        '"a string"',
        "",
        good.replace("C1", "C3"),
        '{"customer_id": "C4", "x": "\u0001"}\x01tail',
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = ingest_file(con, _events_mapping(), path, run_id="j", pii_key=KEY)
    assert result.status == "loaded", result.message
    assert (result.rows_read, result.rows_staged, result.rows_quarantined) == (7, 2, 5)
    reasons = dict(con.execute("select line_number, reason_code from ops.quarantine").fetchall())
    assert reasons == {
        2: "malformed_line",
        3: "malformed_line",
        4: "malformed_line",
        5: "malformed_line",
        8: "malformed_line",
    }


def test_parquet_timestamptz_date_and_nan_columns(con, tmp_path):
    path = tmp_path / "typed.parquet"
    duckdb.sql(
        "copy (select * from (values "
        "('536365', 'A', 'X', 6, timestamptz '2010-12-01 08:26:00+02', 2.55::double, '17850', 'UK'),"
        "('536366', 'A', 'X', 6, timestamptz '2010-12-01 08:26:00+00', 'nan'::double, '17850', 'UK'),"
        "('536367', 'A', 'X', 7.5, timestamptz '2010-12-02 00:00:00+00', 1.0::double, '17850', 'UK')"
        ") t(InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country)) "
        f"to '{path}' (format parquet)"
    )
    result = ingest_file(
        con, builtin_mappings(SQL_DIR)["demo_transactions"], path, run_id="p", pii_key=KEY
    )
    assert (result.rows_read, result.rows_staged, result.rows_quarantined) == (3, 1, 2)
    staged = con.execute("select invoiced_at::varchar from staging.stg_transactions").fetchall()
    assert staged == [("2010-12-01 06:26:00",)]  # TIMESTAMPTZ in UTC
    reasons = dict(con.execute("select line_number, reason_code from ops.quarantine").fetchall())
    assert reasons == {2: "non_finite", 3: "invalid_integer"}
    raw_type = dict(
        con.execute("describe raw.demo_transactions").fetchall()[i][:2] for i in range(8)
    )
    assert raw_type["UnitPrice"] == "DOUBLE"  # raw keeps the file's own types

    dates = tmp_path / "dates.parquet"
    duckdb.sql(
        "copy (select 'C1' as customer_id, 's' as session_id, 'view' as event_type, "
        f"date '2024-03-01' as event_ts) to '{dates}' (format parquet)"
    )
    result = ingest_file(con, _events_mapping(), dates, run_id="d", pii_key=KEY)
    assert result.rows_staged == 1, result.message
    assert con.execute("select event_at::varchar from staging.stg_events").fetchone() == (
        "2024-03-01 00:00:00",
    )


def test_double_dash_and_dollar_in_column_names_and_patterns(con, tmp_path):
    mapping = builtin_mappings(SQL_DIR)["demo_transactions"]
    columns = dict(mapping.columns)
    columns["invoice_id"] = columns["invoice_id"].model_copy(
        update={"source": "Invoice--No", "pattern": "(--)?[0-9]{6}$?"}
    )
    columns["unit_price"] = columns["unit_price"].model_copy(update={"source": "price$gbp"})
    mapping = mapping.model_copy(update={"columns": columns})
    path = tmp_path / "t.csv"
    header = H.replace("InvoiceNo", "Invoice--No").replace("UnitPrice", "price$gbp")
    path.write_text(header + G + G2.replace("536366", "--536366") + G.replace("536365", "x"))
    result = ingest_file(con, mapping, path, run_id="d", pii_key=KEY)
    assert (result.status, result.rows_staged, result.rows_quarantined) == ("loaded", 2, 1), (
        result.message
    )
    reason = con.execute("select reason from ops.quarantine").fetchone()[0]
    assert reason == "Invoice--No x does not match (--)?[0-9]{6}$?"


def test_an_unreadable_path_is_a_failed_load_not_an_exception(con, tmp_path):
    path = tmp_path / "loop.csv"
    path.symlink_to(path)
    result = ingest_file(
        con, builtin_mappings(SQL_DIR)["demo_transactions"], path, run_id="u", pii_key=KEY
    )
    assert result.status == "failed" and "cannot be read" in result.message
    assert con.execute("select status from ops.loads").fetchall() == [("failed",)]
