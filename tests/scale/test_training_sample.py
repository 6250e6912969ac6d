"""Training reads a seeded sample of customers above SEGMENTS_TRAIN_ROWS; the sample is one
rule, so the buckets' Parquet (any number of buckets) gives exactly the warehouse's rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from segments.core.sql import apply_schema
from segments.features import FEATURE_SETS
from segments.lifecycle import TrainingRows, load_features
from segments.scale import stage_model_inputs
from segments.settings import Settings

AS_OF = date(2026, 1, 1)
RETAIL = FEATURE_SETS["retail"]


def _warehouse(settings: Settings, customers: int) -> duckdb.DuckDBPyConnection:
    rng = np.random.default_rng(3)
    ids = [f"customer-{n}" for n in range(customers)]
    features = pd.DataFrame({"as_of": AS_OF, "customer_id": ids})
    for column in RETAIL.columns:
        features[column] = rng.integers(0, 50, customers).astype(float)
    clv = pd.DataFrame(
        {
            "as_of": AS_OF,
            "customer_id": ids,
            "p_alive": rng.random(customers),
            "expected_purchases_horizon": rng.random(customers) * 3,
            "expected_avg_value": rng.random(customers) * 40,
        }
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path))
    apply_schema(con, settings.sql_dir)
    for relation, frame in (("customer_features", features), ("customer_clv", clv)):
        con.register("rows", frame)
        con.execute(f"create or replace table features.{relation} as select * from rows")
        con.unregister("rows")
    return con


def _on_buckets(con: duckdb.DuckDBPyConnection, settings: Settings, max_rows: int) -> pd.DataFrame:
    files = stage_model_inputs(
        con, settings, AS_OF, ["features.customer_features", "features.customer_clv"]
    )
    return load_features(con, RETAIL, TrainingRows(max_rows, settings.seed, files))


def test_below_the_cap_every_customer_is_read_as_before(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    con = _warehouse(settings, 300)
    everyone = load_features(con, RETAIL)  # what one process read before the rule
    pd.testing.assert_frame_equal(load_features(con, RETAIL, TrainingRows(300, 42)), everyone)
    four = Settings(home=tmp_path / "home", partitions=4)
    pd.testing.assert_frame_equal(_on_buckets(con, four, 300), everyone)


@pytest.mark.parametrize("partitions", [1, 3, 4])
def test_above_the_cap_buckets_read_the_same_seeded_sample(tmp_path: Path, partitions) -> None:
    settings = Settings(home=tmp_path / "home", partitions=partitions)
    con = _warehouse(settings, 2_000)
    one = load_features(con, RETAIL, TrainingRows(500, settings.seed))
    assert 400 < len(one) < 600  # about max_rows: a share of customers, drawn by hash
    assert one["customer_id"].is_unique and one["p_alive"].notna().all()
    pd.testing.assert_frame_equal(_on_buckets(con, settings, 500), one)
    # seeded: another seed draws other customers; the same seed the same ones
    other = load_features(con, RETAIL, TrainingRows(500, settings.seed + 1))
    assert set(other["customer_id"]) != set(one["customer_id"])
    again = load_features(con, RETAIL, TrainingRows(500, settings.seed))
    pd.testing.assert_frame_equal(again, one)
