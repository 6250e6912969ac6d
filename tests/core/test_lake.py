"""The staging lake copies: one file per load, written once, and equal to the relation."""

from __future__ import annotations

from pathlib import Path

import duckdb

from segments.core.lake import export_by_load


def _files(folder: Path) -> dict[str, float]:
    return {p.parent.name: p.stat().st_mtime_ns for p in folder.glob("*/data.parquet")}


def _lake_rows(con: duckdb.DuckDBPyConnection, folder: Path) -> list[tuple]:
    return con.execute(
        "select load_id, n from read_parquet($p) order by all", {"p": str(folder / "*/*.parquet")}
    ).fetchall()


def test_only_new_loads_are_written_and_gone_loads_leave(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create table t as select 'a' as load_id, range as n from range(3)")
    folder = tmp_path / "t"
    (folder).mkdir()
    (folder / "data.parquet").write_text("the whole-table file of an older version")
    assert export_by_load(con, "t", folder) == 1
    assert not (folder / "data.parquet").exists()
    before = _files(folder)

    con.execute("insert into t select 'b', range + 10 from range(2)")
    assert export_by_load(con, "t", folder) == 1  # only load b
    after = _files(folder)
    assert after["load_id=a"] == before["load_id=a"]
    assert _lake_rows(con, folder) == con.execute("select * from t order by all").fetchall()

    con.execute("delete from t where load_id = 'a'")  # superseded
    con.execute("delete from t where n = 10")  # a row erased
    assert export_by_load(con, "t", folder) == 1  # b again: its row count changed
    assert sorted(_files(folder)) == ["load_id=b"]
    assert _lake_rows(con, folder) == [("b", 11)]


def test_a_renamed_column_rewrites_every_file(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create table t as select 'a' as load_id, 1 as n_gbp union all select 'b', 2")
    folder = tmp_path / "t"
    assert export_by_load(con, "t", folder) == 2
    con.execute("alter table t rename n_gbp to n")
    assert export_by_load(con, "t", folder) == 2
    assert _lake_rows(con, folder) == [("a", 1), ("b", 2)]


def test_rows_without_a_load_id_are_kept(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create table t as select null::varchar as load_id, 7 as n")
    folder = tmp_path / "t"
    export_by_load(con, "t", folder)
    assert _lake_rows(con, folder) == [(None, 7)]
