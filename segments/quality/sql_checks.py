"""How validation talks to DuckDB: a shared-database cursor for GX, and run values as variables.

Values reach SQL text (batch_filter, unexpected_rows_query) as DuckDB variables set with bound
parameters; only parameter names, checked to be identifiers, are written into SQL.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import duckdb

_SQL_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def sql_text(sql: str) -> str:
    """Turn `$name` into `getvariable('name')`: values travel as DuckDB variables, not text."""
    return _SQL_PARAM.sub(lambda m: f"getvariable('{m.group(1)}')", sql)


def _sql_value(value: Any) -> Any:
    """Values DuckDB can bind as a variable (lists and scalars pass as they are)."""
    return value.isoformat() if isinstance(value, datetime) and value.tzinfo else value


def _variable_sql(name: str, value: Any) -> str:
    """`set variable`; a list of load ids stays a text list even when it is empty."""
    cast = (
        "::varchar[]" if isinstance(value, list) and all(isinstance(v, str) for v in value) else ""
    )
    return f"set variable {name} = $value{cast}"


# The rows an incremental suite checks: those of the loads it has not passed yet (the list is
# the suite parameter `new_load_ids`, see segments/quality/params.py), and any row without a
# load id (which belongs to no load, so it could never be passed: the not-null check sees it).
# list_contains on the list itself, not `in (select unnest(...))`: a semi-join under an `or`
# made DuckDB read every column of every row (0.2-0.4 s at 10M lines for each of a suite's
# queries, most of a night's staging validation when the new loads are a few rows); this is
# one pass over load_id, and the other columns are read only for the rows that match.
NEW_LOADS_FILTER = "load_id is null or list_contains($new_load_ids, load_id)"


def batch_filter(meta: dict[str, Any]) -> str | None:
    """The suite's filter on its relation: its batch_filter, and for an incremental suite
    the new loads' rows."""
    parts = [meta["batch_filter"]] if meta.get("batch_filter") else []
    if meta.get("incremental"):
        parts.append(NEW_LOADS_FILTER)
    return " and ".join(f"({part})" for part in parts) or None


def batch_sql(meta: dict[str, Any], *, whole: bool = False) -> str:
    """The rows a suite validates: its relation, narrowed by its filter (unless `whole`:
    what expectations with scope "relation" see)."""
    where = None if whole else batch_filter(meta)
    return f"select * from {meta['relation']}" + (f" where {sql_text(where)}" if where else "")


def sample_rows(
    con: duckdb.DuckDBPyConnection,
    query: str,
    meta: dict[str, Any],
    parameters: dict[str, Any],
    limit: int = 3,
    *,
    whole: bool = False,
) -> list[dict[str, Any]]:
    """A few rows a failed SQL expectation returned, so its message shows what was wrong.

    GX keeps only the count at SUMMARY detail; this reruns the query only on failure.
    """
    sql = query.format(batch=f"({batch_sql(meta, whole=whole)})")
    wrapper = validation_connection(con, parameters)
    try:
        cursor = wrapper.execute(f"select * from ({sql}) limit {int(limit)}")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error as error:
        return [{"error": str(error).splitlines()[0]}]
    finally:
        wrapper.close()


def validation_connection(con: duckdb.DuckDBPyConnection, variables: dict[str, Any]) -> Any:
    """A DB-API connection for SQLAlchemy that shares `con`'s database and sees our variables.

    A second duckdb.connect() to the same file fails while `con` holds it with another
    configuration (duckdb-engine adds a user agent), and SQLAlchemy's implicit ROLLBACK on
    release wipes a result DuckDB has not yet fetched. So GX gets a cursor of `con` (same
    database instance, own transaction state) wrapped to run in autocommit: validation only
    reads, and each DuckDB statement is its own transaction.
    """
    from duckdb_engine import ConnectionWrapper

    class _AutocommitWrapper(ConnectionWrapper):
        def begin(self) -> None:
            """No explicit transaction: DuckDB autocommits each read."""

        def commit(self) -> None:
            """Nothing to commit: validation never writes."""

        def rollback(self) -> None:
            """Nothing to roll back, and a ROLLBACK would drop a pending result."""

    cursor = con.cursor()
    for name, value in variables.items():
        cursor.execute(_variable_sql(name, value), {"value": _sql_value(value)})
    return _AutocommitWrapper(cursor)
