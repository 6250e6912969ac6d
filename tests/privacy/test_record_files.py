"""Landing and export files rewritten without a customer's records, the rest byte for byte."""

from __future__ import annotations

import gzip
import io
import json

from openpyxl import Workbook, load_workbook

from segments.core.erasure import Customers
from segments.core.pii import customer_pseudonym
from segments.core.recordfiles import TextLayout, rewrite_records
from segments.privacy.files import record_matcher

KEY = b"k" * 32
GONE = customer_pseudonym("17850", KEY)
WHO = Customers(frozenset({GONE}), frozenset({"17850"}), frozenset({"customer_id", "CustomerID"}))
IDS = WHO.id_columns
MATCH = record_matcher(WHO)


def _rewrite(path, layouts=(), needles=None):
    tmp = path.with_name("." + path.name + ".tmp-t")
    removed = rewrite_records(
        path, tmp, MATCH, id_columns=IDS, layouts=list(layouts), needles=needles
    )
    return removed, tmp


def test_csv_keeps_every_other_line_byte_for_byte(tmp_path):
    text = (
        "InvoiceNo,Description,Quantity,CustomerID\r\n"
        '536365,"WHITE ""HANGING"" HEART",6,17850.0\r\n'
        '536366,"A TWO-LINE\nDESCRIPTION",17850,17851.0\r\n'  # quantity equal to the id: kept
        '536367,"MULTI\nLINE",2,17850\r\n'  # a quoted newline inside the customer's record
        "536368,PLAIN,1,\r\n"
    )
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    for needles in (None, ("17850", GONE)):  # pre-filtering by needle changes nothing
        removed, tmp = _rewrite(path, needles=needles)
        assert removed == 2
        assert tmp.read_bytes().decode() == (
            "InvoiceNo,Description,Quantity,CustomerID\r\n"
            '536366,"A TWO-LINE\nDESCRIPTION",17850,17851.0\r\n'
            "536368,PLAIN,1,\r\n"
        )


def test_gzip_semicolons_latin1_and_a_file_without_the_customer(tmp_path):
    path = tmp_path / "t.csv.gz"
    body = "customer_id;name;city\n17850;Zoë;Köln\n17851;Åsa;Malmö\n"
    path.write_bytes(gzip.compress(body.encode("latin-1")))
    layout = TextLayout(delimiter=";", encoding="latin-1")
    removed, tmp = _rewrite(path, [layout])
    assert removed == 1
    assert gzip.decompress(tmp.read_bytes()).decode("latin-1") == (
        "customer_id;name;city\n17851;Åsa;Malmö\n"
    )
    other = tmp_path / "other.csv"
    other.write_text("customer_id,x\n17851,1\n")
    assert _rewrite(other) == (0, other.with_name(".other.csv.tmp-t"))
    assert not other.with_name(".other.csv.tmp-t").exists()
    no_ids = tmp_path / "notes.csv"
    no_ids.write_text("a,b\n17850,1\n")
    assert _rewrite(no_ids)[0] is None  # no id column: not a record file


def test_exports_match_by_pseudonym_and_headerless_by_position(tmp_path):
    export = tmp_path / "segment_changes.csv"
    export.write_text(f"customer_id,segment\n{GONE},a\nffff,b\n")
    removed, tmp = _rewrite(export)
    assert removed == 1 and tmp.read_text() == "customer_id,segment\nffff,b\n"
    headerless = tmp_path / "raw.txt"
    headerless.write_text("a|17850\nb|17851\n")
    who = Customers(WHO.pseudonyms, WHO.raw_ids, frozenset({"column1"}))
    tmp = tmp_path / ".raw.txt.tmp"
    removed = rewrite_records(
        headerless,
        tmp,
        record_matcher(who),
        id_columns=who.id_columns,
        layouts=[TextLayout(delimiter="|", header=False)],
    )
    assert removed == 1 and tmp.read_text() == "b|17851\n"


def test_json_lines_and_excel(tmp_path):
    lines = tmp_path / "e.jsonl"
    kept = json.dumps({"customer_id": 17851, "event": "view"}) + "\n"
    lines.write_text(json.dumps({"customer_id": 17850.0, "event": "view"}) + "\n" + kept)
    removed, tmp = _rewrite(lines)
    assert removed == 1 and tmp.read_text() == kept

    book = Workbook()
    sheet = book.active
    for row in (["CustomerID", "Qty"], [17850, 1], [17851, 17850], [17850, 3]):
        sheet.append(row)
    path = tmp_path / "r.xlsx"
    book.save(path)
    removed, tmp = _rewrite(path)
    assert removed == 2
    rows = list(load_workbook(io.BytesIO(tmp.read_bytes())).active.iter_rows(values_only=True))
    assert rows == [("CustomerID", "Qty"), (17851, 17850)]


def test_whitespace_multi_character_delimiters_and_a_preamble(tmp_path):
    """Layouts a mapping may declare for DuckDB: runs of spaces, '||', lines before a header."""
    cases = {
        "cd.txt": (
            TextLayout(delimiter="whitespace", header=False),
            "00001 19970101 1 11.77\n17850   19970112  2 89.00\n00002 19970102 3 20.76\n",
            {"column0"},
        ),
        "pipes.csv": (
            TextLayout(delimiter="||", skip_rows=2),
            "export of 2024-01-02\nsecond line\ncustomer_id||total\n17850||5\n17851||6\n",
            {"customer_id"},
        ),
    }
    for name, (layout, text, ids) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        tmp = path.with_name("." + name + ".tmp-t")
        who = Customers(WHO.pseudonyms, WHO.raw_ids, frozenset(ids))
        removed = rewrite_records(
            path, tmp, record_matcher(who), id_columns=who.id_columns, layouts=[layout]
        )
        kept = [line for line in text.splitlines(keepends=True) if "17850" not in line]
        assert removed == 1, name
        assert tmp.read_text() == "".join(kept), name
