"""The SQL runner's parameter binding: comments and quoted text are not code."""

from __future__ import annotations

import duckdb
import pytest

from segments.core.sql import bind, split_statements, used_params


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
