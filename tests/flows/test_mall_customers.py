"""The original brief through the whole nightly flow: Mall Customers, income x spending score."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb

from flows.nightly_segmentation import nightly_segmentation
from flows.params import NightlyParams

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mall_customers.csv"


def test_pipeline_finds_the_five_mall_segments(prefect_harness, segments_home: Path):
    landing = segments_home / "landing" / "mall_customers"
    landing.mkdir(parents=True)
    shutil.copy(FIXTURE, landing / "Mall_Customers.csv")
    nightly_segmentation(
        NightlyParams(
            as_of=date(2026, 1, 1), retrain="always", feature_set="demographic_income_spend"
        )
    )
    with duckdb.connect(str(segments_home / "serving.duckdb"), read_only=True) as con:
        customers, segments = con.execute(
            "select count(*), count(distinct segment_id) from customer_segments"
        ).fetchone()
        silhouette, k = con.execute(
            "select (metrics->>'silhouette')::double, k from model_registry"
        ).fetchone()
        names = {n for (n,) in con.execute("select segment_name from segment_profiles").fetchall()}
    assert customers == 200 and segments == k == 5
    assert 0.53 <= silhouette <= 0.57  # the published figure for this table is about 0.55
    assert {
        "High income, high spend",
        "High income, low spend",
        "Low income, high spend",
        "Low income, low spend",
    } <= names
