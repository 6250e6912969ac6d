"""The feature task around the SQL: one transaction, so a failing model changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from feature_warehouse import new_warehouse

from segments.settings import Settings
from tasks.features import build_features


def _features(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    tables = con.execute(
        "select table_name from information_schema.tables where table_schema = 'features' "
        "order by all"
    ).fetchall()
    return {
        name: con.execute(f"select * from features.{name} order by all").fetchall()
        for (name,) in tables
    }


def test_a_failing_model_leaves_the_previous_features_whole(tmp_path: Path) -> None:
    wh = new_warehouse(tmp_path / "warehouse.duckdb")
    wh.lines(
        [
            {"customer": "a", "invoice": "1", "at": "2011-01-10 09:00", "product": "P1"},
            {"customer": "a", "invoice": "2", "at": "2011-05-10 09:00", "product": "P2"},
            {"customer": "b", "invoice": "3", "at": "2011-02-01 09:00", "product": "P1"},
        ]
    )
    wh.events([{"customer": "a", "session": "s1", "type": "view", "at": "2011-01-09 10:00"}])
    settings = Settings(home=tmp_path)
    build_features(wh.con, settings, date(2011, 3, 1))
    before = _features(wh.con)
    assert before["customer_features"] and before["feat_customer_products"]

    # Models that run before customer_features would see the May line as of June; the
    # customer table they join at the end is gone, so the layer fails part-way.
    wh.con.execute("alter table staging.stg_customers rename to stg_customers_gone")
    with pytest.raises(duckdb.CatalogException, match="stg_customers"):
        build_features(wh.con, settings, date(2011, 6, 1))
    assert _features(wh.con) == before
