"""Duplicates found through the natural key land exactly what the hash of every value finds.

A mapping with a natural key only compares lines whose key repeats (in the load or in
staging); one without compares lines whose values hash alike. Both must give the same
staged rows, the same quarantine and the same duplicate counts, file after file.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from segments.core.sql import apply_schema
from segments.ingest.files import ingest_file
from segments.ingest.sources import SourceMapping, builtin_mappings

SQL_DIR = Path(__file__).resolve().parents[2] / "warehouse"
KEY = b"test-key"
TX_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
A = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
A_ID = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"  # same id
A_QTY = "536365,85123A,WHITE HEART,8,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"  # same key
NO_CODE = "536366,,POSTAGE,1,2010-12-01 09:00:00,18.00,,France\n"  # NULL in the natural key
BAD = "536367,22633,HAND WARMER,x3,2010-12-01 08:28:00,1.85,13047,France\n"  # quarantined
E = "536368,22745,POPPY,2,2010-12-02 10:00:00,2.10,13047,France\n"
E_PRICE = "536368,22745,POPPY,2,2010-12-02 10:00:00,2.15,13047,France\n"
A_GUEST = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,,United Kingdom\n"
# (file body, expected (read, staged, quarantined, duplicates))
TX_FILES = [
    (TX_HEADER + A + A_ID + A_QTY + NO_CODE + NO_CODE + BAD + BAD + E, (8, 4, 2, 2)),
    (TX_HEADER + A + A_QTY + E_PRICE + A_GUEST + NO_CODE + E, (6, 2, 0, 4)),
]
CU_HEADER = "customer_id,name,email,gender,birth_date,annual_income,country,signup_date\n"
V1 = "C1,Ann,ann@x.io,F,1980-01-02,50000,FR,2020-01-01\n"
V2 = "C1,Ann,ann@y.io,F,1980-01-02,50000,FR,2020-01-01\n"  # a changed record: a new version
OTHER = "C2,Bob,bob@x.io,M,1975-05-06,,DE,2021-03-04\n"
CU_FILES = [
    (CU_HEADER + V1 + OTHER + V1, (3, 2, 0, 1)),
    (CU_HEADER + V2 + OTHER, (2, 1, 0, 1)),  # OTHER repeats its latest version
    (CU_HEADER + V1 + V1, (2, 1, 0, 1)),  # back to V1: not the latest (V2), so a version
    (CU_HEADER + V1, (1, 0, 0, 1)),
]


def _mappings(name: str) -> tuple[SourceMapping, SourceMapping]:
    """The built-in mapping, and the same mapping without its natural key."""
    mapping = builtin_mappings(SQL_DIR)[name]
    assert mapping.natural_key, "the comparison needs a mapping with a natural key"
    document = mapping.model_dump(exclude_unset=True)
    document["natural_key"] = []
    return mapping, SourceMapping.model_validate(document)


def _load_all(mapping: SourceMapping, files: list, tmp_path: Path, tag: str) -> tuple:
    con = duckdb.connect(":memory:")
    apply_schema(con, SQL_DIR)
    counts = []
    for index, (body, _) in enumerate(files):
        path = tmp_path / tag / f"f{index}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        result = ingest_file(con, mapping, path, run_id="test", pii_key=KEY)
        assert result.status == "loaded", result.message
        counts.append(
            (result.rows_read, result.rows_staged, result.rows_quarantined, result.duplicates)
        )
    stamp = ", loaded_at" if mapping.entity == "customers" else ""  # the clock differs
    staged = con.execute(
        f"select * exclude (source{stamp}) from {mapping.table} order by all"
    ).fetchall()
    quarantine = con.execute(
        "select line_number, reason_code, reason from ops.quarantine order by all"
    ).fetchall()
    con.close()
    return counts, staged, quarantine


@pytest.mark.parametrize(
    ("source", "files"),
    [("demo_transactions", TX_FILES), ("demo_customers", CU_FILES)],
    ids=["transactions", "customers"],
)
def test_natural_key_and_value_hash_find_the_same_duplicates(tmp_path, source, files):
    by_key, by_hash = _mappings(source)
    keyed = _load_all(by_key, files, tmp_path, "key")
    hashed = _load_all(by_hash, files, tmp_path, "hash")
    assert keyed[0] == [expected for _, expected in files]
    assert keyed == hashed
