"""Report data on hand-made rows (top products by lift) and on a customers-only warehouse."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from segments.core.db import connect
from segments.core.sql import apply_schema
from segments.report.data_segments import top_products
from segments.settings import Settings

AS_OF = date(2026, 1, 1)
MALL = Path(__file__).resolve().parents[1] / "fixtures" / "mall_customers.csv"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """An empty warehouse with the schema in place."""
    s = Settings(home=tmp_path / "home", pii_key="test-key")
    with connect(s) as con:
        apply_schema(con, s.sql_dir)
    return s


def _line(
    n: int,
    customer: str,
    product: str,
    revenue: float,
    *,
    when: str = "2025-06-01",
    cancelled: bool = False,
) -> tuple:
    return (
        "t",
        "l1",
        n,
        f"{'C' if cancelled else ''}I{n}",
        product,
        f"desc {product}",
        1,
        revenue,
        datetime.fromisoformat(when),
        customer,
        "UK",
        cancelled,
        revenue,
    )


def test_top_products_rank_by_lift_with_minimum_support(settings: Settings) -> None:
    # segment A: a1..a3; segment B: b1..b3. Everyone buys X for 10; A also buys Y for 10 each;
    # one B customer buys Z big (no support); late and cancelled lines do not count.
    lines, n = [], 0
    for c in ("a1", "a2", "a3", "b1", "b2", "b3"):
        n += 1
        lines.append(_line(n, c, "X", 10.0))
    for c in ("a1", "a2", "a3"):
        n += 1
        lines.append(_line(n, c, "Y", 10.0))
    lines += [
        _line(100, "b1", "Z", 1000.0),
        _line(101, "b2", "Y", 500.0, when="2026-02-01"),
        _line(102, "b3", "Y", -500.0, cancelled=True),
    ]
    with connect(settings) as con:
        con.executemany(
            "insert into staging.stg_transactions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            lines,
        )
        con.executemany(
            "insert into ops.scores values ('r', $1, $2, $3, $4, 'm')",
            [
                (AS_OF, c, 0 if c[0] == "a" else 1, c[0].upper())
                for c in ("a1", "a2", "a3", "b1", "b2", "b3")
            ],
        )
        top = top_products(con, "r", min_customers=2, min_customer_share=0.0)
    got = {(r.segment_name, r.product_code): round(r.lift, 4) for r in top.itertuples()}
    # revenue: A = X 30 + Y 30 = 60; B = X 30 (+ Z 1000 without support); all = 1090
    assert got == {
        ("A", "Y"): round((30 / 60) / (30 / 1090), 4),
        ("A", "X"): round((30 / 60) / (60 / 1090), 4),
        ("B", "X"): round((30 / 1030) / (60 / 1090), 4),
    }
    assert list(top[top["segment_name"] == "A"]["product_code"]) == ["Y", "X"]


def test_top_products_on_a_sample_weigh_each_segment_by_its_size(settings: Settings) -> None:
    """Sampled down to 2 customers a segment, everyone's shares still count the big segment
    for its 10 customers: lift(A, X) is 1.2 as on all rows (0.5 would say X is rare)."""
    lines = [_line(n, f"a{n}", "X", 10.0) for n in range(10)]
    lines += [_line(20 + n, f"b{n}", "Y", 10.0) for n in range(2)]
    lines.append(_line(99, "a0", "OLD", 10.0, when="2024-01-01"))  # over a year before as_of
    with connect(settings) as con:
        con.executemany(
            "insert into staging.stg_transactions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            lines,
        )
        con.executemany(
            "insert into ops.scores values ('r', $1, $2, $3, $4, 'm')",
            [(AS_OF, f"a{n}", 0, "A") for n in range(10)]
            + [(AS_OF, f"b{n}", 1, "B") for n in range(2)],
        )
        top = top_products(con, "r", min_customers=1, min_customer_share=0.0, sample_per_segment=2)
    got = {(r.segment_name, r.product_code): round(r.lift, 4) for r in top.itertuples()}
    assert got == {("A", "X"): round(1 / (100 / 120), 4), ("B", "Y"): round(1 / (20 / 120), 4)}


def test_customers_only_warehouse_reports_the_demographic_set(settings: Settings) -> None:
    """Mall Customers: no transactions, events or RFM; every section still renders or says so."""
    from segments.features import build_features
    from segments.ingest import ingest_landing, refresh_staging
    from segments.lifecycle import score_customers, train_challenger
    from segments.models import TrainConfig
    from segments.report import build_report

    landing = settings.landing_dir / "mall_customers"
    landing.mkdir(parents=True)
    shutil.copy(MALL, landing / "mall_customers.csv")
    with connect(settings) as con:
        ingest_landing(con, settings, "mall")
        refresh_staging(con, settings)
        build_features(con, settings, AS_OF)
        train_challenger(
            con,
            settings,
            run_id="mall",
            as_of=AS_OF,
            feature_set_name="demographic",
            config=TrainConfig(k_min=4, k_max=6, bootstrap_rounds=2),
        )
        score_customers(con, run_id="mall", as_of=AS_OF, feature_set_name="demographic")
        page = build_report(con, settings, "mall").read_text(encoding="utf-8")
    for text in (
        "Income vs spending score",
        "Feature distributions",
        "feature set has no RFM scores",
        "No product data",
        "n/a (no revenue in this feature set)",
        "No previous publish",
        "No web events are loaded",
        "PCA of the model",
        "Elbow curve",
    ):
        assert text in page, text
    assert "RFM grid: customers per cell" not in page
