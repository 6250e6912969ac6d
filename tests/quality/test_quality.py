"""Data-quality suites: every expectation passes on good rows and fails on a crafted bad batch.

One small warehouse of hand-written rows is built once per module; each bad case copies it,
breaks exactly one rule with a SQL statement, and validates a one-expectation copy of the
suite (GX's per-suite overhead dominates on tiny data, so this keeps the module fast).
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from segments.core.sql import apply_schema, run_model
from segments.quality.params import load_band
from segments.quality.suites import (
    CriticalExpectationError,
    SuiteOutcome,
    load_suite,
    raise_on_critical,
    validate_suite,
    validate_suites,
)

PROJECT = Path(__file__).resolve().parents[2]
SQL_DIR = PROJECT / "warehouse"
EXPECTATIONS = PROJECT / "expectations"
SUITES = [
    "stg_transactions",
    "stg_customers",
    "stg_events",
    "customer_features",
    "customer_segments",
]
AS_OF = date(2024, 1, 1)
RUN_ID = "run-good"
PARAMS = {"as_of": AS_OF, "date_floor": date(2020, 1, 1), "run_at": datetime(2024, 1, 2, 6)}

GOOD_ROWS = """
insert into ops.loads (load_id, source, entity, path, rows_staged, status, started_at)
select prefix || i, 'demo', entity, 'landing/' || prefix || i, rows, 'loaded',
       timestamp '2023-12-01' + to_days(i)
from (values ('L-t', 'transactions', 3), ('L-c', 'customers', 2), ('L-e', 'events', 3))
         e(prefix, entity, rows),
     range(1, 5) r(i);

insert into staging.stg_transactions
select 'demo', 'L-t' || l, n, 'INV' || l || n, 'P1', 'mug',
       case when l = 2 and n = 3 then -1 else 2 end, 3.5,
       timestamp '2023-12-01 10:00' + to_days(cast(7 * l - 1 as integer)),
       case when l = 1 and n = 3 then null else 'c' || (1 + (l + n) % 4) end,
       'United Kingdom', l = 2 and n = 3,
       (case when l = 2 and n = 3 then -1 else 2 end) * 3.5
from range(1, 5) a(l), range(1, 4) b(n);

insert into staging.customer_versions
select 'demo', 'L-c' || l, n, 'c' || (case when l = 4 then n else 2 * l - 2 + n end),
       'namehash', 'a3f1e2', case when n = 1 then 'female' else 'male' end,
       date '1980-05-01', 43, 52000.0, 50, 'United Kingdom', date '2021-03-01',
       timestamp '2023-12-01' + to_days(cast(l as integer))
from range(1, 5) a(l), range(1, 3) b(n);

insert into staging.stg_events
select 'web', 'L-e' || l, n, 'c' || (1 + (l + n) % 4), 's' || l,
       ['view', 'cart', 'purchase'][n],
       timestamp '2023-12-01 09:00' + to_days(cast(7 * l - 1 as integer)),
       'web'
from range(1, 5) a(l), range(1, 4) b(n);

create table features.customer_features (
    as_of date, customer_id varchar, recency_days integer, frequency integer,
    monetary double, r_score integer, f_score integer, m_score integer, rfm_segment varchar
);
insert into features.customer_features values
    (date '2024-01-01', 'c1', 4, 3, 21.0, 5, 4, 4, 'champions'),
    (date '2024-01-01', 'c2', 11, 2, 14.0, 4, 3, 3, 'loyal'),
    (date '2024-01-01', 'c3', 18, 2, 10.5, 2, 3, 2, 'at_risk'),
    (date '2024-01-01', 'c4', 25, 1, 7.0, 1, 1, 1, 'hibernating'),
    -- an older as_of with rows that break every rule: the batch filter must keep them out
    (date '2023-12-01', 'c1', -3, 0, -1.0, 9, 9, 9, null),
    (date '2023-12-01', 'c1', null, null, null, null, null, null, null);

create table features.customer_features_demographic (as_of date, customer_id varchar);
insert into features.customer_features_demographic
select date '2024-01-01', 'c' || i from range(1, 7) r(i);

create table ops.customer_segments_candidate as
select 'c' || i as customer_id, cast(i % 2 as integer) as segment_id,
       case when i % 2 = 0 then 'steady' else 'big spenders' end as segment_name,
       'loyal' as rfm_segment, 10 as recency_days, 2 as frequency, 14.0 as monetary,
       30.0 as clv, 'm1' as model_version, 'run-good' as run_id, date '2024-01-01' as as_of
from range(1, 5) r(i);
-- a previous run's candidate rows: the batch filter (run_id = $run_id) must ignore them
insert into ops.customer_segments_candidate
values ('c9', 7, 'old', null, null, null, null, -5.0, 'm0', 'run-old', date '2023-12-01');
"""

# (suite, expectation number in the JSON, label, SQL that breaks exactly that rule)
TX, CU, EV = "staging.stg_transactions", "staging.stg_customers", "staging.stg_events"
FE, SE = "features.customer_features", "ops.customer_segments_candidate"
_SCORES = [
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
]
# fmt: off
BAD_CASES = [
    ("stg_transactions", 1, "missing column", f"alter table {TX} drop column country"),
    ("stg_transactions", 2, "quantity as double", f"alter table {TX} alter quantity type double"),
    ("stg_transactions", 3, "price as text",
     f"alter table {TX} alter unit_price type varchar"),
    ("stg_transactions", 4, "date as text", f"alter table {TX} alter invoiced_at type varchar"),
    ("stg_transactions", 5, "empty", f"delete from {TX}"),
    ("stg_transactions", 6, "null load_id", (f"alter table {TX} alter load_id drop not null; "
     f"update {TX} set load_id = null where line_number = 1")),
    ("stg_transactions", 7, "null line_number", (f"alter table {TX} alter line_number drop not "
     f"null; update {TX} set line_number = null where invoice_id = 'INV11'")),
    ("stg_transactions", 8, "null invoice", (f"alter table {TX} alter invoice_id drop not null; "
     f"update {TX} set invoice_id = null where line_number = 2")),
    ("stg_transactions", 9, "duplicate line", f"insert into {TX} select * from {TX} limit 1"),
    ("stg_transactions", 10, "absurd quantity", (f"update {TX} set quantity = 500000, "
     "line_revenue = 1750000 where invoice_id = 'INV11'")),
    ("stg_transactions", 11, "negative price", (f"update {TX} set unit_price = -3.5, "
     "line_revenue = -7 where invoice_id = 'INV11'")),
    ("stg_transactions", 12, "revenue mismatch",
     f"update {TX} set line_revenue = 99 where invoice_id = 'INV11'"),
    ("stg_transactions", 13, "future date",
     f"update {TX} set invoiced_at = timestamp '2030-01-01' where invoice_id = 'INV11'"),
    ("stg_transactions", 13, "before floor",
     f"update {TX} set invoiced_at = timestamp '1999-12-31' where invoice_id = 'INV11'"),
    ("stg_transactions", 14, "stale",
     f"update {TX} set invoiced_at = invoiced_at - interval 60 day"),
    ("stg_transactions", 15, "mostly guests",
     f"update {TX} set customer_id = null where line_number < 3"),
    ("stg_transactions", 16, "unknown customer",
     f"update {TX} set customer_id = 'ghost' where invoice_id = 'INV11'"),
    ("stg_transactions", 17, "truncated load", f"delete from {TX} where load_id = 'L-t4'"),
    ("stg_transactions", 17, "doubled load", (f"insert into {TX} select source, load_id, "
     "line_number + 100 * i, invoice_id, product_code, description, quantity, unit_price, "
     "invoiced_at, customer_id, country, is_cancellation, line_revenue "
     f"from {TX}, range(1, 3) r(i) where load_id = 'L-t4'")),
    ("stg_customers", 1, "missing column", f"alter table {CU} drop column email_hash"),
    ("stg_customers", 2, "age as text", f"alter table {CU} alter age_years type varchar"),
    ("stg_customers", 3, "income as text",
     f"alter table {CU} alter annual_income type varchar"),
    ("stg_customers", 4, "signup as text", f"alter table {CU} alter signup_date type varchar"),
    ("stg_customers", 5, "empty", f"delete from {CU}"),
    ("stg_customers", 6, "null key",
     f"update {CU} set customer_id = null where customer_id = 'c1'"),
    ("stg_customers", 7, "duplicate key", f"insert into {CU} select * from {CU} limit 1"),
    ("stg_customers", 8, "age 130", f"update {CU} set age_years = 130 where customer_id = 'c1'"),
    ("stg_customers", 8, "age -1", f"update {CU} set age_years = -1 where customer_id = 'c1'"),
    ("stg_customers", 9, "negative income",
     f"update {CU} set annual_income = -1 where customer_id = 'c1'"),
    ("stg_customers", 10, "score 0",
     f"update {CU} set spending_score = 0 where customer_id = 'c1'"),
    ("stg_customers", 11, "unmapped gender",
     f"update {CU} set gender = 'F' where customer_id = 'c1'"),
    ("stg_customers", 12, "born in future",
     f"update {CU} set birth_date = date '2030-01-01' where customer_id = 'c1'"),
    ("stg_customers", 13, "signup before floor",
     f"update {CU} set signup_date = date '2019-12-31' where customer_id = 'c1'"),
    ("stg_customers", 13, "signup in future",
     f"update {CU} set signup_date = date '2024-06-01' where customer_id = 'c1'"),
    ("stg_customers", 14, "clear email",
     f"update {CU} set email_hash = 'ann@example.com' where customer_id = 'c1'"),
    ("stg_customers", 14, "clear name",
     f"update {CU} set name_hash = 'Ann Lee' where customer_id = 'c1'"),
    ("stg_customers", 15, "doubled load", ("insert into staging.customer_versions select source, "
     "load_id, line_number + 10 * i, customer_id || i, name_hash, email_hash, gender, "
     "birth_date, age_years, annual_income, spending_score, country, signup_date, loaded_at "
     "from staging.customer_versions, range(1, 4) r(i) where load_id = 'L-c4'")),
    ("stg_events", 1, "missing column", f"alter table {EV} drop column channel"),
    ("stg_events", 2, "time as text", f"alter table {EV} alter event_at type varchar"),
    ("stg_events", 3, "empty", f"delete from {EV}"),
    ("stg_events", 4, "null load_id", (f"alter table {EV} alter load_id drop not null; "
     f"update {EV} set load_id = null where line_number = 1")),
    ("stg_events", 5, "null line_number", (f"alter table {EV} alter line_number drop not null; "
     f"update {EV} set line_number = null where load_id = 'L-e1'")),
    ("stg_events", 6, "null customer", (f"alter table {EV} alter customer_id drop not null; "
     f"update {EV} set customer_id = null where line_number = 1")),
    ("stg_events", 7, "duplicate event", f"insert into {EV} select * from {EV} limit 1"),
    ("stg_events", 8, "unknown type",
     f"update {EV} set event_type = 'click' where line_number = 1"),
    ("stg_events", 9, "future event",
     f"update {EV} set event_at = timestamp '2030-01-01' where line_number = 1"),
    ("stg_events", 10, "stale", f"update {EV} set event_at = event_at - interval 60 day"),
    ("stg_events", 11, "unknown customer",
     f"update {EV} set customer_id = 'ghost' where line_number = 1"),
    ("stg_events", 12, "truncated load", f"delete from {EV} where load_id = 'L-e4'"),
    ("customer_features", 1, "missing column", f"alter table {FE} drop column rfm_segment"),
    ("customer_features", 2, "nothing at as_of",
     f"delete from {FE} where as_of = date '2024-01-01'"),
    ("customer_features", 3, "null key",
     f"update {FE} set customer_id = null where customer_id = 'c4'"),
    ("customer_features", 4, "duplicate key",
     f"insert into {FE} select * from {FE} where customer_id = 'c4'"),
    *[("customer_features", number, f"null {column}",
       f"update {FE} set {column} = null where customer_id = 'c4'")
      for number, column in enumerate(_SCORES, start=5)],
    ("customer_features", 12, "negative recency",
     f"update {FE} set recency_days = -1 where customer_id = 'c4'"),
    ("customer_features", 12, "recency beyond floor",
     f"update {FE} set recency_days = 1462 where customer_id = 'c4'"),
    ("customer_features", 13, "zero frequency",
     f"update {FE} set frequency = 0 where customer_id = 'c4'"),
    ("customer_features", 14, "net negative",
     f"update {FE} set monetary = -5 where customer_id = 'c4'"),
    ("customer_features", 15, "r_score 6",
     f"update {FE} set r_score = 6 where customer_id = 'c4'"),
    ("customer_features", 16, "f_score 0",
     f"update {FE} set f_score = 0 where customer_id = 'c4'"),
    ("customer_features", 17, "m_score 6",
     f"update {FE} set m_score = 6 where customer_id = 'c4'"),
    ("customer_segments", 1, "missing column", f"alter table {SE} drop column clv"),
    ("customer_segments", 2, "null key",
     f"update {SE} set customer_id = null where customer_id = 'c4'"),
    ("customer_segments", 3, "duplicate key",
     f"insert into {SE} select * from {SE} where customer_id = 'c4'"),
    ("customer_segments", 4, "null segment",
     f"update {SE} set segment_id = null where customer_id = 'c4'"),
    ("customer_segments", 5, "null name",
     f"update {SE} set segment_name = null where customer_id = 'c4'"),
    ("customer_segments", 6, "null model",
     f"update {SE} set model_version = null where customer_id = 'c4'"),
    ("customer_segments", 7, "stale as_of",
     f"update {SE} set as_of = date '2023-12-01' where customer_id = 'c4'"),
    ("customer_segments", 8, "active customer missing",
     f"delete from {SE} where customer_id = 'c4'"),
    ("customer_segments", 8, "customer not active", (f"insert into {SE} select 'c5', 0, "
     "'steady', null, null, null, null, 1.0, 'm1', 'run-good', date '2024-01-01'")),
    ("customer_segments", 9, "one segment", f"update {SE} set segment_id = 0"),
    ("customer_segments", 10, "dominant segment",
     f"update {SE} set segment_id = 0, segment_name = 'steady' where customer_id = 'c1'"),
    ("customer_segments", 11, "negative clv",
     f"update {SE} set clv = -1 where customer_id = 'c4'"),
    ("customer_segments", 12, "null clv",
     f"update {SE} set clv = null where customer_id = 'c4'"),
]
# fmt: on


def build_good(path: Path) -> None:
    """The hand-written warehouse on which every expectation of every suite passes."""
    with duckdb.connect(str(path)) as con:
        apply_schema(con, SQL_DIR)
        for statement in GOOD_ROWS.split(";\n"):
            if statement.strip():
                con.execute(statement)
        run_model(con, SQL_DIR, "staging", "stg_customers")


def validate(
    path: Path,
    suite: str,
    *,
    expectations_dir: Path = EXPECTATIONS,
    params: dict | None = None,
    docs_dir: Path | None = None,
    run_id: str = RUN_ID,
    data_docs: str = "always",
) -> SuiteOutcome:
    with duckdb.connect(str(path)) as con:
        return validate_suite(
            con,
            suite,
            expectations_dir=expectations_dir,
            run_id=run_id,
            stage="test",
            params=params or PARAMS,
            docs_dir=docs_dir,
            db_path=path,
            data_docs=data_docs,
        )


def one_expectation_copy(suite: str, number: int, folder: Path) -> Path:
    """A copy of the suite holding only expectation `number`, in `folder`."""
    doc = load_suite(EXPECTATIONS, suite)
    doc["expectations"] = [doc["expectations"][number - 1]]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{suite}.json").write_text(json.dumps(doc))
    return folder


@pytest.fixture(scope="module")
def good_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "warehouse.duckdb"
    build_good(path)
    return path


@pytest.fixture(scope="module")
def good_outcomes(good_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every suite validated once on the good warehouse (a copy, so results do not pile up)."""
    path = tmp_path_factory.mktemp("good-run") / "warehouse.duckdb"
    shutil.copy(good_db, path)
    docs = path.parent / "data_docs"
    return {suite: validate(path, suite, docs_dir=docs) for suite in SUITES} | {"db": path}


def test_every_expectation_has_a_bad_case():
    """Adding an expectation without a crafted failing batch fails here."""
    written = {
        (suite, n)
        for suite in SUITES
        for n in range(1, len(load_suite(EXPECTATIONS, suite)["expectations"]) + 1)
    }
    assert written == {(suite, number) for suite, number, _, _ in BAD_CASES}


@pytest.mark.parametrize("suite", SUITES)
def test_good_data_passes_every_expectation(good_outcomes, suite):
    outcome = good_outcomes[suite]
    failed = outcome.results[~outcome.results["success"]]
    assert failed.empty, failed[["expectation_type", "column_name", "observed_value"]].to_dict(
        "records"
    )
    assert outcome.success and not outcome.critical_failures and not outcome.warnings


@pytest.mark.parametrize(
    ("suite", "number", "label", "breakage"),
    BAD_CASES,
    ids=[f"{suite}-{number}-{label.replace(' ', '_')}" for suite, number, label, _ in BAD_CASES],
)
def test_bad_batch_fails_the_expectation(
    good_db, good_outcomes, tmp_path, suite, number, label, breakage
):
    assert bool(good_outcomes[suite].results.loc[number - 1, "success"])  # passes on good data
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    with duckdb.connect(str(path)) as con:
        for statement in breakage.split("; "):
            con.execute(statement)
    folder = one_expectation_copy(suite, number, tmp_path / "expectations")
    outcome = validate(path, suite, expectations_dir=folder)
    (row,) = outcome.results.to_dict("records")
    severity = load_suite(EXPECTATIONS, suite)["expectations"][number - 1]["meta"]["severity"]
    assert row["success"] is False, row
    assert row["severity"] == severity
    # a genuine failure, not an expectation that broke (a missing column is the one exception)
    assert not row["observed_value"].startswith("error:") or "column" in label, row
    failures = outcome.critical_failures if severity == "critical" else outcome.warnings
    assert [f["expectation_type"] for f in failures] == [row["expectation_type"]]


# --- what happens around the expectations: results, gate, docs, editing JSON ---------------


@pytest.fixture(scope="module")
def mixed_db(good_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """stg_customers with one critical failure (age 130) and one warning (score 0)."""
    path = tmp_path_factory.mktemp("mixed") / "warehouse.duckdb"
    shutil.copy(good_db, path)
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"update {CU} set age_years = 130, spending_score = 0 where customer_id = 'c1'"
        )
    return path


@pytest.fixture(scope="module")
def mixed_outcome(mixed_db: Path) -> SuiteOutcome:
    return validate(mixed_db, "stg_customers", run_id="run-mixed")


def test_every_result_lands_in_ops_dq_results_with_its_severity(good_outcomes):
    with duckdb.connect(str(good_outcomes["db"]), read_only=True) as con:
        stored = con.execute(
            "select suite, severity, count(*), count(*) filter (where success) "
            "from ops.dq_results where run_id = $run group by all",
            {"run": RUN_ID},
        ).fetchall()
    expected = {}
    for suite in SUITES:
        for expectation in load_suite(EXPECTATIONS, suite)["expectations"]:
            key = (suite, expectation["meta"]["severity"])
            expected[key] = expected.get(key, 0) + 1
    assert {(suite, severity): n for suite, severity, n, _ in stored} == expected
    assert all(n == passed for _, _, n, passed in stored)


def test_failed_results_are_stored_with_counts_and_observed_values(mixed_db, mixed_outcome):
    failed = mixed_outcome.results.query("not success").to_dict("records")
    assert [
        (r["column_name"], r["severity"], r["unexpected_count"], r["element_count"])
        for r in failed
    ] == [("age_years", "critical", 1, 6), ("spending_score", "warning", 1, 6)]
    assert "130" in failed[0]["observed_value"]
    assert [w["column_name"] for w in mixed_outcome.warnings] == ["spending_score"]
    with duckdb.connect(str(mixed_db), read_only=True) as con:
        stored = con.execute(
            "select column_name, severity, success, unexpected_count, observed_value "
            "from ops.dq_results where run_id = 'run-mixed' and not success order by all"
        ).fetchall()
    assert [row[:4] for row in stored] == [
        ("age_years", "critical", False, 1),
        ("spending_score", "warning", False, 1),
    ]


def test_critical_failure_raises_naming_suite_expectation_and_observed_value(mixed_outcome):
    with pytest.raises(CriticalExpectationError) as raised:
        raise_on_critical([mixed_outcome])
    message = str(raised.value)
    assert "stg_customers (staging.stg_customers)" in message
    assert "expect_column_values_to_be_between(column=age_years)" in message
    assert "observed 1 of 6 rows unexpected" in message and "[130]" in message
    assert "spending_score" not in message  # warnings are reported, not raised


def test_warnings_never_raise(mixed_outcome):
    only_warnings = SuiteOutcome(
        **{**mixed_outcome.__dict__, "critical_failures": [], "success": True}
    )
    raise_on_critical([only_warnings])


def test_data_docs_index_lists_every_suite(good_outcomes):
    index = good_outcomes["customer_segments"].docs_path
    assert index is not None and index.name == "index.html" and index.exists()
    html = index.read_text()
    assert all(suite in html for suite in SUITES)


def test_editing_a_threshold_in_json_changes_the_outcome(good_db, tmp_path):
    doc = load_suite(EXPECTATIONS, "stg_customers")
    (age,) = [
        e
        for e in doc["expectations"]
        if e["kwargs"].get("column") == "age_years" and "max_value" in e["kwargs"]
    ]
    age["kwargs"]["max_value"] = 40  # the good customers are 43
    folder = tmp_path / "expectations"
    folder.mkdir()
    (folder / "stg_customers.json").write_text(json.dumps(doc, indent=2))
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    outcome = validate(path, "stg_customers", expectations_dir=folder)
    assert [f["column_name"] for f in outcome.critical_failures] == ["age_years"]


def test_flow_params_override_suite_parameters(good_db, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    # newest line 2023-12-28; a 1-day freshness window before as_of 2024-01-01 is stale
    outcome = validate(path, "stg_transactions", params={**PARAMS, "freshness_days": 1})
    assert [f["expectation_type"] for f in outcome.critical_failures] == [
        "expect_column_max_to_be_between"
    ]


def test_suites_outside_the_feature_set_are_skipped(good_db, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    outcome = validate(path, "customer_features", params={**PARAMS, "feature_set": "demographic"})
    assert outcome.success and outcome.results.empty


def test_validation_writes_nothing_outside_docs_dir(good_db, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    before = {p for p in PROJECT.iterdir()}
    validate(path, "stg_events", docs_dir=tmp_path / "docs")
    assert list(work.iterdir()) == []
    assert {p for p in PROJECT.iterdir()} - before == set()
    assert (tmp_path / "docs" / "index.html").exists()


def test_data_docs_on_failure_are_built_only_when_an_expectation_failed(
    good_db, mixed_db, tmp_path
):
    """SEGMENTS_DATA_DOCS=on_failure: a clean suite writes nothing; a warning or a critical
    failure builds its pages from the results kept in memory."""
    path = tmp_path / "good.duckdb"
    shutil.copy(good_db, path)
    clean = validate(path, "stg_customers", docs_dir=tmp_path / "clean", data_docs="on_failure")
    assert clean.success and clean.docs_path is None and not (tmp_path / "clean").exists()
    path = tmp_path / "mixed.duckdb"
    shutil.copy(mixed_db, path)
    bad = validate(path, "stg_customers", docs_dir=tmp_path / "bad", data_docs="on_failure")
    assert not bad.success and bad.docs_path == tmp_path / "bad" / "index.html"
    pages = list((tmp_path / "bad" / "validations" / "stg_customers").rglob("*.html"))
    assert pages and "age_years" in pages[0].read_text()
    assert not (tmp_path / "bad" / "_gx_store" / "validations").exists()  # kept in memory


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (lambda d: d["expectations"][0]["meta"].pop("severity"), '"meta.severity" must be one of'),
        (lambda d: d["meta"].update(relation="stg_customers"), '"meta.relation" must be'),
        (lambda d: d.update(name="customers"), '"name" must be'),
    ],
)
def test_a_malformed_suite_is_rejected_with_what_to_fix(tmp_path, edit, complaint):
    doc = load_suite(EXPECTATIONS, "stg_customers")
    edit(doc)
    (tmp_path / "stg_customers.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=complaint):
        load_suite(tmp_path, "stg_customers")


def test_an_unknown_expectation_type_is_an_error_not_a_skipped_check(good_db, tmp_path):
    doc = load_suite(EXPECTATIONS, "stg_customers")
    doc["expectations"][0]["type"] = "expect_column_values_to_be_nice"
    (tmp_path / "stg_customers.json").write_text(json.dumps(doc))
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    with pytest.raises(ValueError, match=r"expectation #1 \(expect_column_values_to_be_nice\)"):
        validate(path, "stg_customers", expectations_dir=tmp_path)


def test_load_band_follows_the_median_of_recent_loads(good_db, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    with duckdb.connect(str(path)) as con:
        assert load_band(con, "transactions", window=7, low=0.5, high=2.0) == {
            "latest_load_id": "L-t4",
            "load_rows_min": 1,
            "load_rows_max": 7,
        }
        # fewer than three earlier loads: no band yet, only "not empty"
        assert load_band(con, "transactions", window=2, low=0.5, high=2.0)["load_rows_max"] is None
        assert load_band(con, "nothing", window=7, low=0.5, high=2.0)["latest_load_id"] is None


def test_missing_run_params_are_named(good_db, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    with pytest.raises(KeyError, match="date_floor"):
        validate(path, "stg_events", params={"as_of": AS_OF})


def test_duplicate_lines_are_found_across_bitmap_blocks(good_db, tmp_path):
    """The key check works on blocks of 2^20 line numbers: edges and big numbers still count."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    copy = (
        f"insert into {TX} select source, $load, $line, invoice_id, product_code, description, "
        "quantity, unit_price, invoiced_at, customer_id, country, is_cancellation, "
        f"line_revenue from {TX} limit 1"
    )
    with duckdb.connect(str(path)) as con:
        # neighbours across a block edge, and one line number in two loads: all distinct keys
        for load, line in [("L-t1", 1048575), ("L-t1", 1048576), ("L-t2", 1048576)]:
            con.execute(copy, {"load": load, "line": line})
    folder = one_expectation_copy("stg_transactions", 9, tmp_path / "expectations")
    assert validate(path, "stg_transactions", expectations_dir=folder).success
    with duckdb.connect(str(path)) as con:
        for _ in range(2):  # a third and a second copy, far above the first block
            con.execute(copy, {"load": "L-t2", "line": 1048576})
        con.execute(copy, {"load": "L-t3", "line": 3_000_001})
        con.execute(copy, {"load": "L-t3", "line": 3_000_001})
    (row,) = validate(path, "stg_transactions", expectations_dir=folder).results.to_dict("records")
    assert not row["success"]
    assert row["observed_value"].startswith("2 unexpected row(s)"), row["observed_value"]
    assert '"line_number": 1048576, "copies": 3' in row["observed_value"]


def test_suites_of_a_stage_share_docs_but_keep_their_own_parameters(good_db, tmp_path):
    """One GX context per stage: each suite still sees its own meta.parameters."""
    folder = tmp_path / "expectations"
    folder.mkdir()
    for suite in ("stg_transactions", "stg_events"):
        shutil.copy(EXPECTATIONS / f"{suite}.json", folder / f"{suite}.json")
    events = load_suite(folder, "stg_events")
    events["meta"]["parameters"]["freshness_days"] = 1  # stale for events only
    (folder / "stg_events.json").write_text(json.dumps(events, indent=2))
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    docs = tmp_path / "data_docs"
    with duckdb.connect(str(path)) as con:
        outcomes = validate_suites(
            con,
            ["stg_transactions", "stg_events"],
            expectations_dir=folder,
            run_id="run-stage",
            stage="test",
            params=PARAMS,
            docs_dir=docs,
            db_path=path,
        )
    transactions, events_outcome = outcomes
    assert transactions.success and not transactions.warnings
    assert [w["expectation_type"] for w in events_outcome.warnings] == [
        "expect_column_max_to_be_between"
    ]
    assert transactions.docs_path == events_outcome.docs_path == docs / "index.html"
    html = (docs / "index.html").read_text()
    assert "stg_transactions" in html and "stg_events" in html
    pages = {
        p.relative_to(docs / "validations").parts[0]
        for p in (docs / "validations").rglob("*.html")
    }
    # incremental suites validate their new loads' rows, and the whole relation for the
    # expectations with scope "relation": two validation pages each
    assert pages == {
        "stg_transactions",
        "stg_transactions__relation",
        "stg_events",
        "stg_events__relation",
    }


def test_incremental_suite_checks_each_load_once_and_the_relation_every_time(good_db, tmp_path):
    """stg_transactions validates the rows of loads it has not passed yet; its expectations with
    scope "relation" (row count, freshness, load band) still see every row, every run."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    first = validate(path, "stg_transactions", run_id="run-1")
    assert first.success
    with duckdb.connect(str(path)) as con:
        passed = con.execute(
            "select load_id, rows from ops.validated_loads where suite = 'stg_transactions' "
            "order by load_id"
        ).fetchall()
        assert passed == [("L-t1", 3), ("L-t2", 3), ("L-t3", 3), ("L-t4", 3)]
        # an old, passed load breaks a row rule behind the pipeline's back: not looked at again
        con.execute(
            f"update {TX} set line_revenue = 99 where load_id = 'L-t1' and line_number = 1"
        )
    second = validate(path, "stg_transactions", run_id="run-2")
    assert second.success
    by_type = second.results.set_index("expectation_type")
    # nothing new: the row rules saw no rows, the relation rules every row
    assert by_type.loc["expect_column_values_to_be_between", "element_count"].max() == 0
    with duckdb.connect(str(path)) as con:
        # a new load with a bad row fails, and is not recorded as passed
        con.execute(
            f"insert into {TX} select source, 'L-t5', line_number, invoice_id, product_code, "
            "description, quantity, unit_price, invoiced_at, customer_id, country, "
            f"is_cancellation, 99 from {TX} where load_id = 'L-t4'"
        )
    third = validate(path, "stg_transactions", run_id="run-3")
    failed = third.results[~third.results["success"]]
    assert list(failed["expectation_type"]) == ["unexpected_rows_expectation"]
    assert "L-t5" in failed["observed_value"].iloc[0]
    assert "L-t1" not in failed["observed_value"].iloc[0]
    with duckdb.connect(str(path)) as con:
        con.execute(f"update {TX} set line_revenue = quantity * unit_price where load_id = 'L-t5'")
    assert validate(path, "stg_transactions", run_id="run-4").success  # checked again: fixed
    with duckdb.connect(str(path)) as con:
        assert con.execute(
            "select run_id from ops.validated_loads where load_id = 'L-t5'"
        ).fetchall() == [("run-4",)]
        # the relation rules still see everything: a stale table fails with no new load
        con.execute(f"update {TX} set invoiced_at = invoiced_at - interval 60 day")
    stale = validate(path, "stg_transactions", run_id="run-5")
    failed = stale.results[~stale.results["success"]]
    assert list(failed["expectation_type"]) == ["expect_column_max_to_be_between"]


def test_customers_are_checked_per_load_and_their_key_across_the_table(good_db, tmp_path):
    """stg_customers validates the rows of customer loads it has not passed yet: a bad row of
    a new load fails the gate, a passed load is not checked again, and the key's uniqueness
    looks a new load's customers up among every row."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    assert validate(path, "stg_customers", run_id="run-1").success
    with duckdb.connect(str(path)) as con:
        passed = con.execute(
            "select load_id, rows from ops.validated_loads where suite = 'stg_customers' "
            "order by load_id"
        ).fetchall()
        assert passed == [("L-c2", 2), ("L-c3", 2), ("L-c4", 2)]
        # a new load with one bad customer (an unmapped gender code)
        con.execute(
            "insert into ops.loads (load_id, source, entity, path, rows_staged, status, "
            "started_at) values ('L-c5', 'demo', 'customers', 'landing/L-c5', 1, 'loaded', "
            "timestamp '2023-12-06')"
        )
        con.execute(
            "insert into staging.customer_versions select source, 'L-c5', 1, 'c7', name_hash, "
            "email_hash, 'F', birth_date, age_years, annual_income, spending_score, country, "
            "signup_date, timestamp '2023-12-06' from staging.customer_versions "
            "where customer_id = 'c3'"
        )
        run_model(con, SQL_DIR, "staging", "stg_customers")
        # and an old, passed load breaks a row rule behind the pipeline's back
        con.execute(f"update {CU} set age_years = 130 where customer_id = 'c3'")
    second = validate(path, "stg_customers", run_id="run-2")
    assert [f["expectation_type"] for f in second.critical_failures] == [
        "expect_column_values_to_be_in_set"
    ]
    by_type = second.results.set_index("expectation_type")
    assert by_type.loc["expect_column_values_to_not_be_null", "element_count"] == 1
    assert by_type.loc["expect_table_row_count_to_be_between", "observed_value"] == "7"
    with pytest.raises(CriticalExpectationError, match="gender"):
        raise_on_critical([second])
    with duckdb.connect(str(path)) as con:
        assert con.execute(  # a failed load is not recorded: the next run checks it again
            "select count(*) from ops.validated_loads where load_id = 'L-c5'"
        ).fetchone() == (0,)
        con.execute(f"update {CU} set gender = 'female' where customer_id = 'c7'")
    assert validate(path, "stg_customers", run_id="run-3").success
    with duckdb.connect(str(path)) as con:
        # a new load repeating a customer of a passed load: the key is checked table-wide
        con.execute(
            f"insert into {CU} select * replace ('L-c6' as load_id) from {CU} "
            "where customer_id = 'c5'"
        )
    fourth = validate(path, "stg_customers", run_id="run-4")
    (failure,) = fourth.critical_failures
    assert failure["expectation_type"] == "unexpected_rows_expectation"
    assert "c5" in failure["observed_value"] and "c3" not in failure["observed_value"]


def test_staging_stage_checks_only_new_loads_and_records_which_passed(good_db, tmp_path):
    """The nightly's validate_staging stage, twice: the second run's row rules see only the new
    events load (element counts in ops.dq_results), its bad row fails the gate, the loads
    passed before are not checked again, and only the failing run builds Data Docs."""
    from segments.quality.stage import run_stage_suites
    from segments.settings import Settings

    settings = Settings(home=tmp_path / "home")
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(good_db, path)
    params = {**PARAMS, "feature_set": "retail"}
    with duckdb.connect(str(path)) as con:
        first = run_stage_suites(con, settings, "validate_staging", run_id="run-a", params=params)
        assert all(outcome.success for outcome in first)
        passed = con.execute(
            "select suite, list(load_id order by load_id) from ops.validated_loads "
            "where run_id = 'run-a' group by suite order by suite"
        ).fetchall()
        assert passed == [
            # L-c1's customers were all updated by L-c4: it holds no row of stg_customers now
            ("stg_customers", ["L-c2", "L-c3", "L-c4"]),
            ("stg_events", ["L-e1", "L-e2", "L-e3", "L-e4"]),
            ("stg_transactions", ["L-t1", "L-t2", "L-t3", "L-t4"]),
        ]
        con.execute(
            "insert into ops.loads (load_id, source, entity, path, rows_staged, status, "
            "started_at) values ('L-e5', 'web', 'events', 'landing/L-e5', 3, 'loaded', "
            "timestamp '2023-12-06')"
        )
        con.execute(
            f"insert into {EV} select source, 'L-e5', line_number, customer_id, session_id, "
            "case when line_number = 1 then 'teleport' else event_type end, event_at, channel "
            f"from {EV} where load_id = 'L-e4'"
        )
        second = run_stage_suites(con, settings, "validate_staging", run_id="run-b", params=params)
        by_suite = {outcome.suite: outcome for outcome in second}
        assert by_suite["stg_transactions"].success and by_suite["stg_customers"].success
        events = by_suite["stg_events"]
        assert [f["expectation_type"] for f in events.critical_failures] == [
            "expect_column_values_to_be_in_set"
        ]
        counts = dict(
            con.execute(
                "select suite, max(element_count) from ops.dq_results where run_id = 'run-b' "
                "and expectation_type = 'expect_column_values_to_not_be_null' group by suite"
            ).fetchall()
        )
        # row rules: the new load's 3 rows, nothing of the 4 loads passed in run-a
        assert counts["stg_events"] == 3
        assert counts["stg_transactions"] == counts["stg_customers"] == 0
        assert con.execute(
            "select count(*) from ops.validated_loads where load_id = 'L-e5'"
        ).fetchone() == (0,)  # a failed load is not recorded: the next run checks it again
    assert first[0].docs_path is None and not (settings.reports_dir / "run-a").exists()
    assert (settings.reports_dir / "run-b" / "data_docs" / "index.html").exists()
