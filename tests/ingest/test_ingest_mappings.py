"""Mappings alone bring a new source: derived columns, reader options, per-mapping rules,
strict validation with errors that name the key and the allowed values."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from segments.cli.app import app
from segments.core.sql import apply_schema
from segments.ingest.files import ingest_file
from segments.ingest.mapping_schema import MappingError, mapping_json_schema
from segments.ingest.sources import ENTITY_COLUMNS, ENTITY_REQUIRED, SourceMapping, load_mapping

SQL_DIR = Path(__file__).resolve().parents[2] / "warehouse"
KEY = b"test-key"

# The CD retailer's original layout (CDNOW, 1997-98): customer id, YYYYMMDD date, number of
# CDs, dollar value of the line; whitespace-separated with padding, no header, no invoice id.
CD_LINES = [
    "00001 19970101  1  11.77",
    "00002 19970112  1  12.00",
    "00002 19970112  5  77.00",  # a second line the same day: another purchase line
    "00003 19970102  2  20.76",
    "00003 19970330  2  20.76",
    "00004 19970101  2  29.33",
    "00004 19970118  2  29.73",
    "00005 19970101  2  29.33",
    "  00006 19970101 4 57.45 ",
    "00007 19970101  1  13.97",
]
CD_MAPPING = {
    "name": "cd_retailer",
    "entity": "transactions",
    "format": "csv",
    "file_pattern": "*.txt",
    "csv": {"delimiter": "whitespace", "header": False},
    "date_floor": "1990-01-01",
    "cancellation": "none",
    "natural_key": ["invoice_id"],
    "columns": {
        "customer_id": {"source": "column0", "type": "id", "required": True, "pii": True},
        "invoiced_at": {"source": "column1", "type": "date", "formats": ["%Y%m%d"]},
        "quantity": {"source": "column2", "min": 1, "max": 1000},
        "line_total": {"source": "column3", "keep": True},
        # one purchase per customer and day; column0 is already the pseudonym here
        "invoice_id": {"expression": "column0 || '-' || column1"},
        "unit_price": {
            "expression": "try_cast(column3 as double) / nullif(try_cast(column2 as integer), 0)",
            "min": 0,
        },
        "country": {"expression": "'United States'"},
    },
}


def _write(tmp_path: Path, name: str, document: dict) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    apply_schema(con, SQL_DIR)
    return con


def test_the_cd_retailer_layout_loads_through_a_mapping_alone(tmp_path):
    mapping = load_mapping(_write(tmp_path, "cd_retailer.yaml", CD_MAPPING))
    data = tmp_path / "CDNOW_sample.txt"
    data.write_text("\n".join(CD_LINES) + "\n")
    con = _con()
    result = ingest_file(con, mapping, data, run_id="t", pii_key=KEY)
    assert result.status == "loaded", result.message
    assert (result.rows_read, result.rows_staged, result.rows_quarantined) == (10, 10, 0)
    rows = con.execute(
        "select customer_id, invoice_id, invoiced_at::date::varchar, quantity, unit_price, "
        "line_revenue, is_cancellation, country from staging.stg_transactions "
        "order by line_number"
    ).fetchall()
    first = rows[0]
    assert first[2:] == ("1997-01-01", 1, 11.77, 11.77, False, "United States")
    assert first[1] == f"{first[0]}-19970101"  # derived from the pseudonym, never the raw id
    assert rows[8][3:6] == (4, 57.45 / 4, 57.45)  # padded line: unit price from the total
    assert rows[1][1] == rows[2][1]  # two lines of one customer-day share the invoice
    dump = str(con.execute("select * from staging.stg_transactions").fetchall())
    assert "00001" not in dump
    raw = con.execute('select "column3" from raw.cd_retailer order by _line_number').fetchall()
    assert raw[0] == ("11.77",)  # the kept column is stored as read


def test_without_the_mapping_floor_1997_is_quarantined_naming_floor_and_setting(tmp_path):
    document = {k: v for k, v in CD_MAPPING.items() if k != "date_floor"}
    mapping = load_mapping(_write(tmp_path, "cd.yaml", document))
    data = tmp_path / "cd.txt"
    data.write_text("\n".join(CD_LINES) + "\n")
    con = _con()
    result = ingest_file(con, mapping, data, run_id="t", pii_key=KEY)
    assert result.rows_quarantined == 10
    codes = con.execute("select distinct reason_code from ops.quarantine").fetchall()
    assert codes == [("implausible_date",)]
    reason = con.execute("select reason from ops.quarantine order by line_number").fetchone()[0]
    assert reason.startswith("column1 1997-01-01")
    assert "before the date floor 2000-01-01" in reason
    assert "SEGMENTS_DATE_FLOOR" in reason and "date_floor" in reason


def test_an_all_quarantined_load_exits_non_zero_naming_the_top_reason(segments_home, tmp_path):
    document = {k: v for k, v in CD_MAPPING.items() if k != "date_floor"}
    mapping_path = _write(tmp_path, "cd.yaml", document)
    data = tmp_path / "cd.txt"
    data.write_text("\n".join(CD_LINES) + "\n")
    result = CliRunner().invoke(app, ["ingest", str(mapping_path), str(data)])
    assert result.exit_code == 4, result.output  # a load failed (docs/operations.md)
    assert "implausible_date" in result.output
    assert "SEGMENTS_MAX_QUARANTINE_SHARE=0.05" in result.output
    with duckdb.connect(str(segments_home / "warehouse.duckdb"), read_only=True) as con:
        status, quarantined = con.execute(
            "select status, rows_quarantined from ops.loads where source = 'cd_retailer'"
        ).fetchone()
        kept = con.execute("select count(*) from ops.quarantine").fetchone()[0]
        staged = con.execute("select count(*) from staging.stg_transactions").fetchone()[0]
        raw = con.execute("select count(*) from raw.cd_retailer").fetchone()[0]
    assert (status, quarantined, kept, staged, raw) == ("failed", 10, 10, 0, 10)


def test_a_share_over_the_setting_fails_below_it_loads(segments_home, tmp_path, monkeypatch):
    document = {k: v for k, v in CD_MAPPING.items() if k != "date_floor"}
    mapping_path = _write(tmp_path, "cd.yaml", document)
    data = tmp_path / "cd.txt"
    lines = [line.replace("1997", "2024") for line in CD_LINES]
    data.write_text("\n".join([*lines, "00009 19970101 1 10.00"]) + "\n")  # 1 of 11 bad
    monkeypatch.setenv("SEGMENTS_MAX_QUARANTINE_SHARE", "0.1")
    assert CliRunner().invoke(app, ["ingest", str(mapping_path), str(data)]).exit_code == 0
    data.write_text("\n".join([*lines, "00009 19970101 1 10.00", "00009 19970102 1 1"]) + "\n")
    assert CliRunner().invoke(app, ["ingest", str(mapping_path), str(data)]).exit_code == 4


def test_sources_check_is_a_dry_run_that_writes_nothing(segments_home, tmp_path):
    mapping_path = _write(tmp_path, "cd.yaml", CD_MAPPING)
    data = tmp_path / "cd.txt"
    data.write_text("\n".join([*CD_LINES, "00008 1997010x 1 5.00", "00009 19970101 1"]) + "\n")
    before = sorted(p for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(app, ["sources", "check", str(mapping_path), str(data)])
    assert result.exit_code == 4, result.output  # 2 of 12 quarantined: over 5%
    assert "dry run, nothing written" in result.output
    assert "first 10 typed rows" in result.output and "United States" in result.output
    assert "invalid_date" in result.output and "malformed_line" in result.output
    assert "read 12" in result.output
    assert not segments_home.exists()  # no warehouse, no key file, no lake
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_one_source_column_feeds_several_targets(tmp_path):
    document = json.loads(json.dumps(CD_MAPPING))
    document["columns"]["description"] = {"source": "column2"}  # also quantity's source
    document["columns"]["product_code"] = {"source": "column2"}
    mapping = load_mapping(_write(tmp_path, "cd.yaml", document))
    data = tmp_path / "cd.txt"
    data.write_text("\n".join(CD_LINES[:2]) + "\n00008 19970101 x 5.00\n")
    con = _con()
    result = ingest_file(con, mapping, data, run_id="t", pii_key=KEY)
    assert (result.rows_staged, result.rows_quarantined) == (2, 1)
    assert con.execute(
        "select quantity, description, product_code from staging.stg_transactions limit 1"
    ).fetchone() == (1, "1", "1")
    raw = json.loads(con.execute("select raw_values from ops.quarantine").fetchone()[0])
    assert raw["column2"] == "x" and raw["column3"] == "5.00"


@pytest.mark.parametrize(
    "delimiter, text",
    [
        ("||", "a||b||c\n1||2||3\n"),
        ("\t", "a\tb\tc\n1\t2\t3\n"),
        (";", "a;b;c\n1;2;3\n"),
        ("whitespace", "a  b\tc\n 1 2   3\n"),
    ],
)
def test_any_delimiter_and_skipped_rows(tmp_path, delimiter, text):
    document = {
        "name": "events_x",
        "entity": "events",
        "csv": {"delimiter": delimiter, "skip_rows": 2},
        "columns": {
            "customer_id": {"source": "a", "pii": True},
            "event_type": {"source": "b"},
            "day": {"source": "c", "keep": True},
            "event_at": {"expression": "'2024-01-0' || c", "formats": ["%Y-%m-%d"]},
        },
    }
    mapping = load_mapping(_write(tmp_path, "e.yaml", document))
    data = tmp_path / "e.csv"
    data.write_text("exported by a tool\n\n" + text)
    con = _con()
    result = ingest_file(con, mapping, data, run_id="t", pii_key=KEY)
    assert (result.status, result.rows_read, result.rows_staged) == ("loaded", 1, 1), (
        result.message
    )
    assert con.execute(
        "select event_type, event_at::date::varchar from staging.stg_events"
    ).fetchone() == ("2", "2024-01-03")
    line = con.execute("select line_number from staging.stg_events").fetchone()[0]
    assert line == 4


def test_a_cancellation_rule_per_mapping(tmp_path):
    document = json.loads(json.dumps(CD_MAPPING))
    document["cancellation"] = {"when": "try_cast(column3 as double) < 0"}
    document["columns"]["quantity"] = {"source": "column2", "min": -1000, "max": 1000}
    document["columns"]["unit_price"] = {
        "expression": "abs(try_cast(column3 as double) / try_cast(column2 as integer))"
    }
    mapping = load_mapping(_write(tmp_path, "cd.yaml", document))
    data = tmp_path / "cd.txt"
    data.write_text("00001 19970101 2 20.00\n00001 19970105 -1 -10.00\n00002 19970101 -1 5.00\n")
    con = _con()
    result = ingest_file(con, mapping, data, run_id="t", pii_key=KEY)
    assert (result.rows_staged, result.rows_quarantined) == (2, 1)
    assert con.execute(
        "select is_cancellation, line_revenue from staging.stg_transactions order by line_number"
    ).fetchall() == [(False, 20.0), (True, -10.0)]
    code = con.execute("select reason_code from ops.quarantine").fetchone()[0]
    assert code == "negative_quantity_not_cancellation"


BASE = {
    "name": "x",
    "entity": "events",
    "columns": {
        "customer_id": {"source": "id"},
        "event_type": {"source": "t"},
        "event_at": {"source": "at"},
    },
}


def _with(path: str, value: object) -> dict:
    document = json.loads(json.dumps(BASE))
    *parents, leaf = path.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return document


@pytest.mark.parametrize(
    "document, expected",
    [
        (
            _with("columns.event_type.patern", "x"),
            "columns.event_type: unknown key(s) ['patern'] (allowed: source, expression, keep",
        ),
        (_with("colums", {}), "unknown key(s) ['colums']"),
        (_with("csv.delimter", ";"), "csv: unknown key(s) ['delimter']"),
        (_with("database.tabel", "t"), "database: unknown key(s) ['tabel']"),
        (
            _with("format", "tsv"),
            'format: "tsv" is not allowed (allowed: "csv", "parquet", "jsonl", "xlsx")',
        ),
        (
            _with("csv.encoding", "utf-32"),
            'csv.encoding: "utf-32" is not allowed (allowed: "utf-8"',
        ),
        (_with("csv.decimal", ";"), 'csv.decimal: ";" is not allowed (allowed: ".", ","'),
        (
            _with("entity", "orders"),
            (
                'entity: "orders" is not allowed (allowed: "transactions", "customers", '
                '"events", "campaigns")'
            ),
        ),
        (
            _with("columns.event_type.type", "int"),
            'columns.event_type.type: "int" is not allowed (allowed: "varchar", "id"',
        ),
        (_with("csv.delimiter", ""), "csv.delimiter"),
        (_with("csv.delimiter", "::::::"), "give 1 to 4 characters"),
        (_with("csv.skip_rows", -1), "csv.skip_rows"),
        (_with("columns.event_at.pattern", "("), "is not a regular expression"),
        (_with("columns.event_at.type", "integer"), "event_at is timestamp in staging"),
        (_with("columns.phone", {"source": "phone"}), "not events columns"),
        (
            _with("columns.session_id", {"source": "s", "expression": "1"}),
            "exactly one of `source` or `expression`",
        ),
        (_with("columns.session_id", {"expression": "(select 1)"}), "a subquery is not allowed"),
        (
            _with("columns.session_id", {"expression": "getenv('SEGMENTS_PII_KEY')"}),
            "'getenv' is not an allowed",
        ),
        (_with("columns.session_id", {"expression": "sum(t)"}), "an aggregate is not allowed"),
        (_with("columns.session_id", {"expression": "nope"}), "column 'nope' is not declared"),
        (_with("columns.session_id", {"expression": "other.t"}), "names a table"),
        (_with("columns.session_id", {"expression": "$date_floor"}), "a parameter is not allowed"),
        (_with("columns.session_id", {"expression": "t ||"}), "not valid SQL"),
        (_with("cancellation", "none"), "applies to transactions only"),
        (_with("natural_key", ["channel"]), "natural_key ['channel'] must be mapped"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_mappings_name_the_key_and_what_is_allowed(tmp_path, document, expected):
    with pytest.raises(MappingError) as caught:
        load_mapping(_write(tmp_path, "x.yaml", document))
    assert expected in str(caught.value)
    assert "x.yaml" in str(caught.value) and "input_value" not in str(caught.value)


def test_a_missing_required_target_is_a_mapping_error(tmp_path):
    document = json.loads(json.dumps(BASE))
    del document["columns"]["event_at"]
    with pytest.raises(MappingError, match=r"needs the target column\(s\) \['event_at'\]"):
        load_mapping(_write(tmp_path, "x.yaml", document))


def test_the_committed_json_schema_matches_the_model():
    committed = json.loads((SQL_DIR / "sources" / "mapping.schema.json").read_text())
    assert committed == mapping_json_schema(SourceMapping), (
        "run segments.ingest.mapping_schema.write_schema"
    )
    for path in (SQL_DIR / "sources").glob("*.yaml"):
        load_mapping(path)  # every shipped mapping passes its own schema


def test_docs_list_every_entity_target_and_mapping_key():
    docs = (SQL_DIR.parent / "docs" / "ingestion.md").read_text()
    for entity, targets in ENTITY_COLUMNS.items():
        for target in targets:
            assert f"`{target}`" in docs, target
        for target in ENTITY_REQUIRED[entity]:
            assert f"`{target}` (required)" in docs, target
    schema = mapping_json_schema(SourceMapping)
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    for key in keys:
        assert f"`{key}`" in docs, key
