"""Derived columns of a mapping: a SQL expression over the file's columns and constants.

Parsed with sqlglot and checked before anything runs: only column references (to columns
the mapping declares as a `source`), constants, operators and scalar functions; no
subqueries, tables, aggregates, windows, parameters or functions that read the machine
(`getenv`, `read_csv`, ...) or are not deterministic (`random`, `now`). The SQL that runs is
the one sqlglot writes back (no comments), so a `--` in the text cannot hide anything.
"""

from __future__ import annotations

from functools import cache

import sqlglot
from sqlglot import exp

# Node kinds an expression may not contain, with the reason shown to the user.
_FORBIDDEN: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Query, "a subquery"),
    (exp.Subquery, "a subquery"),
    (exp.Table, "a table"),
    (exp.From, "a FROM clause"),
    (exp.Join, "a join"),
    (exp.Window, "a window function"),
    (exp.AggFunc, "an aggregate"),
    (exp.Star, "*"),
    (exp.Placeholder, "a parameter"),
    (exp.Parameter, "a parameter"),
    (exp.Rand, "random()"),
    (exp.CurrentDate, "the current date"),
    (exp.CurrentTimestamp, "the current time"),
    (exp.CurrentTime, "the current time"),
    (exp.ReadCSV, "a file read"),
)
# DuckDB scalar functions that read the environment or are not the same on every run.
_UNSAFE_FUNCTIONS = frozenset(
    {
        "getenv", "current_setting", "setseed", "random", "nextval", "currval", "uuid",
        "gen_random_uuid", "now", "current_timestamp", "get_current_timestamp",
        "current_query", "txid_current", "version", "pragma_version",
    }
)  # fmt: skip


class ExpressionError(ValueError):
    """A derived column's SQL is not allowed; the message says why and what to use."""


@cache
def _duckdb_scalar_functions() -> frozenset[str]:
    import duckdb

    with duckdb.connect() as con:
        rows = con.execute(
            "select distinct lower(function_name) from duckdb_functions() "
            "where function_type in ('scalar', 'macro')"
        ).fetchall()
    return frozenset(name for (name,) in rows)


def parse_expression(text: str, declared: set[str], target: str) -> tuple[str, list[str]]:
    """The checked SQL to run and the source columns it reads (as spelled in `declared`)."""
    where = f"expression of column {target!r}"
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ExpressionError(f"{where}: not valid SQL ({str(exc).splitlines()[0]})") from exc
    by_lower = {name.lower(): name for name in declared}
    used: list[str] = []
    for node in tree.walk():
        for kind, what in _FORBIDDEN:
            if isinstance(node, kind):
                raise ExpressionError(
                    f"{where}: {what} is not allowed; an expression may use the file's "
                    "columns, constants, operators and scalar functions only"
                )
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name in _UNSAFE_FUNCTIONS or name not in _duckdb_scalar_functions():
                raise ExpressionError(
                    f"{where}: function {node.name!r} is not an allowed scalar function "
                    "(functions that read the machine or change between runs are refused)"
                )
        if isinstance(node, exp.Column):
            if node.table:
                raise ExpressionError(
                    f"{where}: {node.sql()} names a table; use the column name alone"
                )
            found = by_lower.get(node.name.lower())
            if found is None:
                raise ExpressionError(
                    f"{where}: column {node.name!r} is not declared in the mapping "
                    f"(declared source columns: {', '.join(sorted(declared)) or 'none'}); "
                    "declare it with `<name>: {source: <column>, keep: true}`"
                )
            used.append(found)
            node.set("this", exp.to_identifier(found, quoted=True))  # the file's spelling
    return tree.sql(dialect="duckdb", comments=False), list(dict.fromkeys(used))
