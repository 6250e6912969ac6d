"""Small read helpers: the report reads tables other stages may not have created yet."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether schema.table exists, so a missing optional table degrades to a notice."""
    schema, _, table = qualified.partition(".")
    row = con.execute(
        "select count(*) from duckdb_tables() where schema_name = $s and table_name = $t "
        "union all select count(*) from duckdb_views() where schema_name = $s "
        "and view_name = $t",
        {"s": schema, "t": table},
    ).fetchall()
    return sum(r[0] for r in row) > 0


def columns_of(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    """Column names of a relation (empty when it does not exist)."""
    if not table_exists(con, qualified):
        return []
    return [r[0] for r in con.execute(f"describe {qualified}").fetchall()]


def frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> pd.DataFrame:
    """A query result as a DataFrame; values are always bound, never formatted in."""
    return con.execute(sql, params or {}).df()
