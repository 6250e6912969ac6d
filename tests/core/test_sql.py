"""The SQL runner: parameter binding (comments and quoted text are not code), and what
rebuilds an incremental model."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from segments.core.sql import (
    _macros_used,
    apply_schema,
    bind,
    run_layer,
    split_statements,
    used_params,
)


def test_comments_are_not_parameters():
    assert used_params("select $a -- and $b\nfrom t where x = $c") == {"a", "c"}


@pytest.mark.parametrize(
    "sql",
    [
        'select "a--b" as x, $floor as f from (select 1 as "a--b")',
        "select regexp_full_match('x--y', 'x--.*') as x, $floor as f",
        "select 'it''s -- here' as x, $floor as f",
    ],
)
def test_a_double_dash_inside_quotes_keeps_the_rest_of_the_line(sql):
    params = bind(sql, {"floor": 7, "unused": 1})
    assert params == {"floor": 7}
    assert duckdb.connect().execute(sql, params).fetchone()[-1] == 7


def test_a_dollar_inside_quotes_is_not_a_parameter():
    sql = "select regexp_full_match('a$b', 'a[$]b') as m, \"price$usd\" from (select 1 as \"price$usd\")"
    assert used_params(sql) == set()
    assert bind(sql, {}) == {}


def test_missing_parameters_are_named():
    with pytest.raises(KeyError, match="as_of"):
        bind("select $as_of", {})


def test_statements_split_on_line_ending_semicolons_without_comments():
    assert split_statements("select 1; -- one\nselect '--x';\n") == ["select 1", "select '--x'"]


# ---- an incremental model follows the macros it calls, and only those ----------------------

MACROS = """\
create or replace macro twice(x) as (x * 2);
create or replace macro scaled(x) as (twice(x));
create or replace macro unrelated(x) as (x + 1);
"""
TABLES = """\
create schema if not exists ops;
create schema if not exists staging;
create schema if not exists features;
create table if not exists staging.src (load_id varchar, line_number bigint,
    customer_id varchar, v integer);
create table if not exists features.agg_scaled (load_id varchar, customer_id varchar,
    v integer);
"""
MODEL = """\
-- materialized: incremental by load_id of staging.src
-- unrelated(v) in a comment is no call; nor is 'twice(' in a string
select load_id, customer_id, scaled(v) as v, 'twice(' as note
from staging.src
where load_id in (select load_id from changed_loads)
"""


def _incremental_dir(root: Path) -> Path:
    (root / "schema").mkdir(parents=True)
    (root / "features").mkdir()
    (root / "schema" / "00_tables.sql").write_text(TABLES)
    ops = Path(__file__).resolve().parents[2] / "warehouse" / "schema" / "ops_incremental.sql"
    (root / "schema" / "ops_incremental.sql").write_text(ops.read_text())
    (root / "schema" / "01_macros.sql").write_text(MACROS)
    (root / "features" / "agg_scaled.sql").write_text(MODEL.replace(", 'twice(' as note", ""))
    return root


def test_an_incremental_model_is_rebuilt_only_when_a_macro_it_calls_changes(tmp_path):
    sql_dir = _incremental_dir(tmp_path / "warehouse")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    apply_schema(con, sql_dir)
    con.execute("insert into staging.src values ('L1', 1, 'a', 1), ('L1', 2, 'b', 2)")
    assert run_layer(con, sql_dir, "features") == {"agg_scaled": 2}
    assert run_layer(con, sql_dir, "features") == {"agg_scaled": 0}  # nothing new

    def edit(old: str, new: str) -> dict[str, int]:
        path = sql_dir / "schema" / "01_macros.sql"
        path.write_text(path.read_text().replace(old, new))
        apply_schema(con, sql_dir)
        return run_layer(con, sql_dir, "features")

    # a macro the model does not call, in the same file, and a comment: rows kept as they are
    assert edit("(x + 1)", "(x + 100)") == {"agg_scaled": 0}
    assert (
        edit("create or replace macro twice", "-- doubles\ncreate or replace macro twice")[
            "agg_scaled"
        ]
        == 0
    )
    # a macro it calls through another macro: rebuilt whole, with the new rule
    assert edit("(x * 2)", "(x * 3)") == {"agg_scaled": 2}
    assert con.execute("select v from features.agg_scaled order by v").fetchall() == [(3,), (6,)]
    # the macro it calls directly
    assert edit("(twice(x))", "(twice(x) + 1)") == {"agg_scaled": 2}
    assert con.execute("select v from features.agg_scaled order by v").fetchall() == [(4,), (7,)]


def test_macro_calls_in_comments_or_strings_do_not_tie_a_model_to_the_macro(tmp_path):
    sql_dir = _incremental_dir(tmp_path / "warehouse")
    used = _macros_used(sql_dir, MODEL)
    assert "macro scaled" in used and "macro twice" in used  # called, and called by scaled
    assert "unrelated" not in used
