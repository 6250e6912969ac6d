"""Customer buckets without a cluster: the bucket rule, and per-bucket features gathered into
exactly the one-process feature table (the same SQL files, a file:// bucket lake)."""

from __future__ import annotations

import hashlib
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from feature_warehouse import SQL_DIR, new_warehouse

from segments.core.sql import apply_schema
from segments.features import build_features
from segments.scale import (
    bucket_sources,
    compute_bucket_features,
    gather_features,
    stage_buckets,
)
from segments.settings import Settings

AS_OF = date(2011, 9, 1)


def test_the_bucket_of_a_customer_is_md5_based_and_stable() -> None:
    con = duckdb.connect()
    apply_schema(con, SQL_DIR)
    ids = [f"customer-{n}" for n in range(500)] + ["", "é-ü", "a" * 200]
    got = con.execute(
        "select id, customer_bucket(id, 7) from unnest($ids) as t(id)", {"ids": ids}
    ).fetchall()
    expected = {i: int(hashlib.md5(i.encode()).hexdigest()[:8], 16) % 7 for i in ids}
    assert dict(got) == expected
    assert set(expected.values()) == set(range(7))  # every bucket gets customers


def test_the_buckets_read_every_staging_table_the_features_read() -> None:
    assert bucket_sources(SQL_DIR) == ["stg_customers", "stg_events", "stg_transactions"]


def _shop(wh, customers: int = 60, seed: int = 3) -> None:
    """Random lines in two loads (returns, lines after as_of, web events, demographics)."""
    rng = random.Random(seed)
    start = datetime(2010, 12, 1, 9)
    for load in ("load-1", "load-2"):
        lines, events = [], []
        for n in range(customers):
            if rng.random() < 0.2:
                continue
            customer = f"c{n}"
            for k in range(rng.randint(1, 6)):
                at = start + timedelta(days=rng.randint(0, 330), minutes=rng.randint(0, 600))
                invoice = f"{'C' if rng.random() < 0.1 else ''}{load}-{n}-{k}"
                for p in range(rng.randint(1, 3)):
                    lines.append(
                        {"customer": customer, "invoice": invoice, "at": at,
                         "product": f"P{rng.randint(1, 9)}", "qty": rng.randint(1, 5),
                         "price": round(rng.uniform(0.5, 40), 2)}
                    )  # fmt: skip
            for k in range(rng.randint(0, 4)):
                at = start + timedelta(days=rng.randint(200, 330), hours=rng.randint(0, 9))
                kind = rng.choice(["view", "cart", "purchase"])
                events.append({"customer": customer, "session": f"s{n}-{k % 2}", "type": kind,
                               "at": at})  # fmt: skip
        lines.append({"customer": None, "invoice": f"{load}-guest", "at": start})
        wh.lines(lines, load=load)
        wh.events(events, load=load)
    wh.customers(
        [{"customer": f"c{n}", "gender": rng.choice(["F", "M"]), "age": rng.randint(18, 80),
          "income": rng.randint(10, 120), "score": rng.randint(1, 99)}
         for n in range(0, customers, 2)]
    )  # fmt: skip


def _table(con: duckdb.DuckDBPyConnection, relation: str) -> pd.DataFrame:
    return con.execute(f"select * from {relation} order by customer_id").df()


@pytest.mark.parametrize("lake", ["path", "file_url"])
def test_gathered_bucket_features_equal_the_one_process_build(tmp_path: Path, lake: str) -> None:
    wh = new_warehouse(tmp_path / "warehouse.duckdb")
    _shop(wh)
    one = Settings(home=tmp_path / "home")
    build_features(wh.con, one, AS_OF)
    expected = {r: _table(wh.con, r) for r in ("features.customer_features",
                                               "features.customer_features_demographic")}  # fmt: skip
    root = tmp_path / "bucket lake"
    url = root.as_uri() if lake == "file_url" else str(root)
    spread = Settings(home=tmp_path / "home", partitions=3, bucket_lake=url)
    stage_buckets(wh.con, spread)
    done = [compute_bucket_features(spread, AS_OF, b, threads=1) for b in range(3)]
    counts = gather_features(wh.con, spread, AS_OF)

    assert sum(d["customers"] for d in done) == counts["customer_features"] > 30
    assert all(d["customers"] for d in done)  # every bucket had customers to compute
    for relation, frame in expected.items():
        pd.testing.assert_frame_equal(_table(wh.con, relation), frame, check_exact=True)
    # the RFM quintiles are population-wide: a bucket alone would score differently
    alone = pd.read_parquet(root / "features/customer_features/as_of=2011-09-01/bucket=0")
    merged = alone.merge(expected["features.customer_features"], on="customer_id")
    assert (merged["r_score_x"] != merged["r_score_y"]).any() or (
        merged["m_score_x"] != merged["m_score_y"]
    ).any()
    assert sorted(p.name for p in (root / "features" / "agg_customer_summary").iterdir()) == [
        "bucket=0", "bucket=1", "bucket=2"
    ]  # fmt: skip


def test_a_second_night_on_buckets_is_incremental_and_still_exact(tmp_path: Path) -> None:
    """Night 2 splits only the new and changed loads, each bucket resumes from its state
    and recomputes only what changed, and the gather still equals the one-process build."""
    wh = new_warehouse(tmp_path / "warehouse.duckdb")
    _shop(wh)
    spread = Settings(home=tmp_path / "home", partitions=3, bucket_lake=str(tmp_path / "lake"))
    first = stage_buckets(wh.con, spread)
    night1 = [compute_bucket_features(spread, AS_OF, b, threads=1) for b in range(3)]
    gather_features(wh.con, spread, AS_OF)
    assert first["loads"]["stg_transactions"]["loads_written"] == 2
    assert not any(d["incremental"] for d in night1)

    # a new load (known and new customers), and load-1 shortened (an erasure, a re-landing)
    wh.lines(
        [{"customer": f"c{n}", "invoice": f"late-{n}", "at": datetime(2011, 8, 20, 10),
          "product": "P3", "qty": 2, "price": 7.5} for n in (1, 2, 3, 999)],
        load="load-3",
    )  # fmt: skip
    wh.con.execute(
        "delete from staging.stg_transactions where load_id = 'load-1' and line_number % 5 = 0"
    )
    second = stage_buckets(wh.con, spread)
    night2 = [compute_bucket_features(spread, AS_OF, b, threads=1) for b in range(3)]
    assert second["loads"]["stg_transactions"] == {"loads_written": 2, "loads_removed": 0}
    assert second["loads"]["stg_events"] == {"loads_written": 0, "loads_removed": 0}
    assert all(d["incremental"] for d in night2)
    rows = {
        n: sum(d["aggregate_rows_written"]["agg_load_invoice_days"] for d in night)
        for n, night in ((1, night1), (2, night2))
    }
    assert 0 < rows[2] < rows[1]  # only the changed loads' invoice-days were recomputed

    one = Settings(home=tmp_path / "home")
    build_features(wh.con, one, AS_OF)
    expected = {r: _table(wh.con, r) for r in ("features.customer_features",
                                               "features.customer_features_demographic")}  # fmt: skip
    gather_features(wh.con, spread, AS_OF)
    for relation, frame in expected.items():
        pd.testing.assert_frame_equal(_table(wh.con, relation), frame, check_exact=True)
    assert "c999" in set(expected["features.customer_features"]["customer_id"])
