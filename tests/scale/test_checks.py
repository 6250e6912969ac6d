"""Validation by customer bucket without a cluster: the per-customer checks of a suite run on
each bucket's Parquet, the rest once on the relation, and together they record and gate
exactly what one process does; a bad row fails the gate naming the check and its bucket."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from segments.core.sql import apply_schema
from segments.quality import (
    CriticalExpectationError,
    load_suite,
    per_bucket,
    raise_on_critical,
    run_stage_suites,
    suite_params,
)
from segments.scale import gather_checks, stage_check_buckets, validate_bucket
from segments.settings import Settings

AS_OF = date(2026, 1, 1)
STAGE = "validate_features"
COMPARED = [
    "stage",
    "suite",
    "relation",
    "expectation_type",
    "column_name",
    "severity",
    "success",
    "observed_value",
    "unexpected_count",
    "element_count",
]


def _warehouse(settings: Settings, customers: int, bad: dict[int, dict] | None = None) -> None:
    """features.customer_features at AS_OF (and a day before) for `customers` customers;
    `bad` overrides some rows' columns (None = null)."""
    rows = []
    for n in range(customers):
        row = {
            "as_of": AS_OF,
            "customer_id": f"c{n:04d}",
            "recency_days": n % 300,
            "frequency": 1 + n % 7,
            "monetary": 10.0 + n,
            "r_score": 1 + n % 5,
            "f_score": 1 + (n // 5) % 5,
            "m_score": 1 + (n // 25) % 5,
            "rfm_segment": "loyal",
        }
        rows.append({**row, **(bad or {}).get(n, {})})
    old = [{**rows[0], "as_of": date(2025, 12, 31), "recency_days": None}]  # not this as_of
    frame = pd.DataFrame(rows + old)
    settings.home.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        apply_schema(con, settings.sql_dir)
        con.register("rows", frame)
        con.execute("create or replace table features.customer_features as select * from rows")


def _on_buckets(settings: Settings, run_id: str) -> list:
    params = suite_params(settings, run_id=run_id, as_of=AS_OF, feature_set="retail")
    with duckdb.connect(str(settings.warehouse_path)) as con:
        split = stage_check_buckets(con, settings, STAGE, params)
    assert split["suites"] == ["customer_features"]
    buckets = [
        validate_bucket(settings, STAGE, bucket, run_id=run_id, params=params, threads=1)
        for bucket in range(settings.partitions)
    ]
    with duckdb.connect(str(settings.warehouse_path)) as con:
        return gather_checks(con, settings, STAGE, run_id=run_id, params=params, buckets=buckets)


def _in_one_process(settings: Settings, run_id: str) -> list:
    params = suite_params(settings, run_id=run_id, as_of=AS_OF, feature_set="retail")
    with duckdb.connect(str(settings.warehouse_path)) as con:
        return run_stage_suites(con, settings, STAGE, run_id=run_id, params=params)


def _recorded(settings: Settings, run_id: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(
            f"select {', '.join(COMPARED)} from ops.dq_results where run_id = $r "
            "order by expectation_type, column_name, severity",
            {"r": run_id},
        ).df()


def _bucket_of(customer_id: str, partitions: int) -> int:
    with duckdb.connect() as con:
        apply_schema(con, Settings().sql_dir)
        return con.execute(
            "select customer_bucket($c, $p)", {"c": customer_id, "p": partitions}
        ).fetchone()[0]


def test_the_rule_sends_row_checks_to_buckets_and_table_checks_to_the_gather() -> None:
    doc = load_suite(Settings().expectations_dir, "customer_features")
    where = {(e["type"], e["kwargs"].get("column")): per_bucket(e) for e in doc["expectations"]}
    assert where[("expect_column_values_to_not_be_null", "recency_days")]
    assert where[("expect_column_values_to_be_unique", "customer_id")]  # a customer: one bucket
    assert where[("expect_table_columns_to_match_set", None)]
    assert not where[("expect_table_row_count_to_be_between", None)]  # a bucket may be empty
    assert not where[("expect_column_values_to_be_between", "monetary")]  # mostly: a share
    unique_other = {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "email"}}
    assert not per_bucket(unique_other)  # two customers can share a value across buckets


def test_a_clean_run_on_buckets_records_what_one_process_records(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", partitions=4)
    _warehouse(settings, 60)
    one = _in_one_process(settings, "run-one")
    four = _on_buckets(settings, "run-four")
    raise_on_critical(four)
    assert [o.suite for o in four] == [o.suite for o in one] == ["customer_features"]
    assert len(four[0].results) == len(one[0].results) == 17
    expected, got = _recorded(settings, "run-one"), _recorded(settings, "run-four")
    pd.testing.assert_frame_equal(got, expected)
    assert got["success"].all()
    # the buckets really held the rows: their element counts add up to the relation's
    nulls = got[got["expectation_type"] == "expect_column_values_to_not_be_null"]
    assert set(nulls["element_count"]) == {60}


@pytest.mark.parametrize(
    ("bad", "check"),
    [
        ({17: {"recency_days": None}}, "expect_column_values_to_not_be_null(column=recency_days)"),
        ({17: {"r_score": 9}}, "expect_column_values_to_be_between(column=r_score)"),
        ({17: {"customer_id": "c0003"}}, "expect_column_values_to_be_unique(column=customer_id)"),
    ],
)
def test_a_bad_row_fails_the_gate_naming_the_check_and_its_bucket(
    tmp_path: Path, bad: dict, check: str
) -> None:
    settings = Settings(home=tmp_path / "home", partitions=4)
    _warehouse(settings, 60, bad)
    customer = bad[17].get("customer_id", "c0017")
    bucket = _bucket_of(customer, 4)
    outcomes = _on_buckets(settings, "run-bad")
    with pytest.raises(CriticalExpectationError) as raised:
        raise_on_critical(outcomes)
    message = str(raised.value)
    assert "1 critical expectation(s) failed" in message
    assert f"customer_features (features.customer_features): {check}" in message
    assert f"observed bucket {bucket}: " in message
    recorded = _recorded(settings, "run-bad")
    assert len(recorded) == 17  # one row per expectation, as one process records
    failed = recorded[~recorded["success"]]
    assert len(failed) == 1 and failed["observed_value"].iloc[0].startswith(f"bucket {bucket}: ")
    # one process fails the same check on the same rows
    (single,) = _in_one_process(settings, "run-bad-one")
    assert [f["expectation_type"] for f in single.critical_failures] == [
        f["expectation_type"] for f in outcomes[0].critical_failures
    ]
    assert [f["unexpected_count"] for f in single.critical_failures] == [
        f["unexpected_count"] for f in outcomes[0].critical_failures
    ]
