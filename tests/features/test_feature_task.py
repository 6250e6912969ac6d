"""The feature task around the SQL: one transaction, and the CLV assumptions from settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from feature_warehouse import new_warehouse
from pydantic import ValidationError

from segments.features import build_features
from segments.settings import Settings


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
    assert before["customer_features"] and before["agg_customer_summary"]

    # Models that run before customer_features would see the May line as of June; the
    # customer table they join at the end is gone, so the layer fails part-way.
    wh.con.execute("alter table staging.stg_customers rename to stg_customers_gone")
    with pytest.raises(duckdb.CatalogException, match="stg_customers"):
        build_features(wh.con, settings, date(2011, 6, 1))
    assert _features(wh.con) == before


def test_predicted_clv_assumptions_come_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = new_warehouse(tmp_path / "warehouse.duckdb")
    wh.lines(
        [
            {"customer": "a", "invoice": "1", "at": "2011-01-10 09:00", "qty": 2, "price": 5},
            {"customer": "a", "invoice": "2", "at": "2011-02-10 09:00", "qty": 1, "price": 30},
        ]
    )
    query = "select predicted_clv from features.customer_features"
    build_features(wh.con, Settings(home=tmp_path), date(2011, 3, 1))
    (default,) = wh.con.execute(query).fetchone()
    # 2 orders of mean 20 over 50 days of tenure (under a month counts as one; here 1.64
    # months), 24 months at a 0.3 margin
    assert default == pytest.approx(20 * 2 / (50 / (365.25 / 12)) * 24 * 0.3)

    monkeypatch.setenv("SEGMENTS_CLV_MARGIN", "0.6")
    monkeypatch.setenv("SEGMENTS_CLV_EXPECTED_LIFETIME_MONTHS", "36")
    build_features(wh.con, Settings(home=tmp_path), date(2011, 3, 1))
    (tuned,) = wh.con.execute(query).fetchone()
    assert tuned == pytest.approx(default * 2 * 1.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [("clv_margin", 1.5), ("clv_margin", -0.1), ("clv_expected_lifetime_months", 0)],
)
def test_impossible_clv_assumptions_are_refused(tmp_path: Path, name: str, value: float) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(home=tmp_path, **{name: value})
