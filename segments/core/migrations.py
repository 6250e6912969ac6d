"""Warehouse migrations: changes to tables that already hold data, applied once, in order.

`create table if not exists` never alters an existing table, so a renamed column of a
declared table is renamed here, before the schema is applied. Each step checks the catalog
first, so running it again (or on a new warehouse) does nothing. See CHANGELOG.md.
"""

from __future__ import annotations

import duckdb

# 0.2.0: money columns carry no currency (SEGMENTS_CURRENCY says which one it is).
RENAMED_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("staging", "stg_transactions", "unit_price_gbp", "unit_price"),
    ("staging", "stg_transactions", "line_revenue_gbp", "line_revenue"),
    ("staging", "customer_versions", "annual_income_gbp", "annual_income"),
    ("features", "customer_clv", "expected_avg_value_gbp", "expected_avg_value"),
    ("features", "customer_clv", "clv_gbp", "clv"),
    ("ops", "backtests", "revenue_per_customer_gbp", "revenue_per_customer"),
    ("ops", "backtests", "avg_order_value_gbp", "avg_order_value"),
)
# 0.3.0: ops.runs says which process ran a run, so the next run can tell it crashed.
ADDED_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("ops", "runs", "pid", "integer"),
    ("ops", "runs", "host", "varchar"),
    ("ops", "runs", "flow_run_id", "varchar"),
)
# Tables rebuilt from the renamed ones at the next run; dropped so no reader sees old names.
REBUILT_TABLES: tuple[tuple[str, str], ...] = (
    ("staging", "stg_customers"),
    ("ops", "customer_segments_candidate"),
)


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every pending step; returns what was done (empty when up to date)."""
    done = []
    columns = {
        (s, t, c)
        for s, t, c in con.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
        ).fetchall()
    }
    renamed = False
    for schema, table, old, new in RENAMED_COLUMNS:
        if (schema, table, old) in columns and (schema, table, new) not in columns:
            con.execute(f'alter table {schema}.{table} rename column "{old}" to "{new}"')
            done.append(f"{schema}.{table}.{old} -> {new}")
            renamed = True
    tables = {(s, t) for s, t, _ in columns}
    for schema, table, column, kind in ADDED_COLUMNS:
        if (schema, table) in tables and (schema, table, column) not in columns:
            con.execute(f'alter table {schema}.{table} add column "{column}" {kind}')
            done.append(f"{schema}.{table}.{column} added")
    if renamed:
        for schema, table in REBUILT_TABLES:
            con.execute(f"drop table if exists {schema}.{table}")
    return done
