"""How a customer's rows are recognised in any table or Parquet file, on tiny hand-made data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from segments.core.erasure import (
    ERASED,
    Customers,
    copy_database,
    delete_in_place,
    finish_copy,
    open_scratch,
    rewrite_parquet,
)
from segments.core.pii import customer_pseudonym, normalise_id, pseudonym

KEY = b"k" * 32
GONE = customer_pseudonym("17850", KEY)
KEPT = customer_pseudonym("17851", KEY)
WHO = Customers(frozenset({GONE}), frozenset({"17850"}), frozenset({"customer_id", "CustomerID"}))


def _world(path: Path) -> None:
    """A warehouse-like file: keyed tables, a raw table, quarantine JSON, free text."""
    con = duckdb.connect(str(path))
    con.execute("create schema raw; create schema ops; create schema marts")
    con.execute("create table marts.seg (customer_id varchar, segment varchar)")
    con.execute("comment on table marts.seg is 'one row per customer'")
    con.execute("insert into marts.seg values (?, 'a'), (?, 'b'), (null, 'c')", [GONE, KEPT])
    # a raw table: its id column is the source's (CustomerID), the name column hashed PII
    con.execute(
        "create table raw.shop (CustomerID varchar, name varchar, Qty varchar, "
        "_load_id varchar, _line_number bigint)"
    )
    con.execute(
        "insert into raw.shop values (?, 'h1', '17850', 'l', 1), (?, 'h2', '3', 'l', 2), "
        "(null, ?, '1', 'l', 3)",
        [GONE, KEPT, GONE],  # line 3: the customer only in a hashed PII column
    )
    con.execute(
        "create table ops.quarantine (load_id varchar, line_number bigint, raw_values json)"
    )
    con.execute(
        "insert into ops.quarantine values "
        """('l', 7, '{"CustomerID": " 17850.0 ", "Qty": "x"}'), """  # raw id, as read
        """('l', 8, '{"CustomerID": "17851", "Qty": "17850"}'), """  # another customer
        "('l', 9, ?::json)",
        [f'{{"CustomerID": "{GONE}"}}'],
    )
    con.execute("create table ops.dq (suite varchar, observed varchar, tags varchar[])")
    con.execute(
        "insert into ops.dq values ('s', ?, ['x']), ('t', 'fine', [?]), ('u', ?, null)",
        [f"1 unexpected row, e.g. {GONE}", GONE, f"e.g. {KEPT}"],
    )
    con.execute("create macro seg_count() as (select count(*) from marts.seg)")
    con.execute("create view marts.seg_view as select * from marts.seg")
    con.close()


def test_python_and_sql_normalise_ids_alike():
    con = duckdb.connect()
    for raw in ["17850.0", " 17850 ", "17850.000", "C0000017", "12.5", "", "   "]:
        sql = con.execute(
            r"select nullif(regexp_replace(trim($v), '\.0+$', ''), '')", {"v": raw}
        ).fetchone()[0]
        assert normalise_id(raw) == sql, raw
    assert customer_pseudonym("17850.0", KEY) == pseudonym("17850", KEY)


def test_copy_drops_the_customer_everywhere_and_keeps_the_rest(tmp_path):
    source, target = tmp_path / "w.duckdb", tmp_path / "new.duckdb"
    _world(source)
    with open_scratch() as con:
        counts = copy_database(con, source, target, WHO)
        finish_copy(con)
    assert counts.rows == {
        "marts.seg": 1,
        "raw.shop": 2,  # by the id column, and by the hashed PII column of a source line
        "ops.quarantine": 2,  # the raw id under an id key, the pseudonym under any key
        "ops.dq": 1,  # a list still naming the customer
    }
    assert counts.redacted == {"ops.dq": 1}
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("select customer_id from marts.seg order by 1").fetchall() == [
        (KEPT,),
        (None,),
    ]
    # another customer's line whose quantity happens to equal the raw id stays
    assert con.execute("select line_number from ops.quarantine").fetchall() == [(8,)]
    assert con.execute("select Qty from raw.shop").fetchall() == [("3",)]
    assert con.execute("select suite, observed from ops.dq order by 1").fetchall() == [
        ("s", f"1 unexpected row, e.g. {ERASED}"),
        ("u", f"e.g. {KEPT}"),
    ]
    # the schema came along: comment, macro, view
    assert con.execute("select seg_count()").fetchone()[0] == 2
    assert con.execute("select count(*) from marts.seg_view").fetchone()[0] == 2
    assert con.execute(
        "select comment from duckdb_tables() where table_name = 'seg'"
    ).fetchone() == ("one row per customer",)


def test_a_copy_leaves_no_bytes_of_deleted_rows(tmp_path):
    """DuckDB keeps a deleted row's bytes in the file; the erasure writes a new file."""
    source, target = tmp_path / "w.duckdb", tmp_path / "new.duckdb"
    _world(source)
    with duckdb.connect(str(source)) as con:
        delete_in_place(con, WHO)
        con.execute("checkpoint")
    assert GONE.encode() in source.read_bytes()  # what an in-place delete leaves behind
    _world(tmp_path / "w2.duckdb")
    with open_scratch() as con:
        copy_database(con, tmp_path / "w2.duckdb", target, WHO)
        finish_copy(con)
    assert GONE.encode() not in target.read_bytes()
    assert KEPT.encode() in target.read_bytes()


def test_delete_in_place_matches_the_copy(tmp_path):
    _world(tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        counts = delete_in_place(con, WHO)
        left = con.execute(
            "select count(*) from ops.dq where contains(observed, $p)", {"p": GONE}
        ).fetchone()[0]
    assert counts.total_rows == 6 and left == 0


def test_parquet_partitions_are_rewritten_without_gaining_a_column(tmp_path):
    folder = tmp_path / "lake" / "marts" / "seg" / "as_of=2026-01-01"
    folder.mkdir(parents=True)
    path = folder / "data.parquet"
    with duckdb.connect() as con:
        con.execute(
            "create table t as select * from (values ('a', 1.5), ('b', 2.5)) v(customer_id, clv)"
        )
        con.execute("update t set customer_id = $g where customer_id = 'a'", {"g": GONE})
        con.execute("copy t to $p (format parquet)", {"p": str(path)})
    tmp = folder / ".data.parquet.tmp-x"
    with open_scratch() as con:
        assert rewrite_parquet(con, path, tmp, WHO) == (1, 0)
        assert rewrite_parquet(con, tmp, folder / ".again", WHO) is None  # nothing left
        rows = con.execute(
            "select * from read_parquet($p, hive_partitioning = false)", {"p": str(tmp)}
        ).fetchall()
        columns = con.execute(
            "describe select * from read_parquet($p, hive_partitioning = false)", {"p": str(tmp)}
        ).fetchall()
    assert rows == [("b", 2.5)]
    assert [c[0] for c in columns] == ["customer_id", "clv"]  # no as_of from the folder name


def test_only_hex_pseudonyms_reach_sql():
    with pytest.raises(ValueError, match="hex"):
        Customers(frozenset({"x' or 1=1 --"}))
