"""A 0.1 warehouse (money columns named *_gbp) is migrated in place, once, keeping its rows."""

from __future__ import annotations

from pathlib import Path

import duckdb

from segments.core.migrations import RENAMED_COLUMNS, migrate
from segments.core.warehouse import prepare_warehouse
from segments.settings import Settings


def test_old_money_columns_are_renamed_keeping_rows_and_a_second_run_does_nothing(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "home", pii_key="k" * 32)
    prepare_warehouse(settings)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(
            "insert into staging.stg_transactions (source, load_id, line_number, invoice_id, "
            "quantity, unit_price, invoiced_at, customer_id, is_cancellation, line_revenue) "
            "values ('s', 'L1', 1, 'I1', 2, 3.5, timestamp '2024-01-01', 'c1', false, 7.0)"
        )
        for schema, table, old, new in RENAMED_COLUMNS:  # back to the 0.1 names
            con.execute(f'alter table {schema}.{table} rename column "{new}" to "{old}"')
    prepare_warehouse(settings)  # what the first 0.2 run does
    with duckdb.connect(str(settings.warehouse_path)) as con:
        row = con.execute(
            "select unit_price, line_revenue from staging.stg_transactions"
        ).fetchone()
        names = {c for (c,) in con.execute("select column_name from duckdb_columns()").fetchall()}
        assert migrate(con) == []
    assert row == (3.5, 7.0)
    assert not {old for _, _, old, _ in RENAMED_COLUMNS} & names
