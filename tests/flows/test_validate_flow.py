"""The validate task inside a flow: artifacts, ops.runs bookkeeping, and the critical gate."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
from prefect import flow

from segments.core.runs import RunContext
from segments.core.sql import apply_schema, run_model
from segments.quality.suites import CriticalExpectationError
from segments.settings import Settings
from tasks.validate import artifact_key, validate

AS_OF = date(2024, 1, 1)


@flow(name="validate_customers_test")
def validate_customers(run_id: str) -> list:
    ctx = RunContext(Settings(), run_id, "validate_customers_test", AS_OF)
    return validate(ctx, "validate_staging", "retail", suites=["stg_customers"])


def build_customers(settings: Settings, *, age: int) -> None:
    with duckdb.connect(str(settings.warehouse_path)) as con:
        apply_schema(con, settings.sql_dir)
        con.execute(
            "insert into staging.customer_versions select 'demo', 'L1', i, 'c' || i, 'nh', 'eh', "
            "'female', date '1980-01-01', $age, 1000.0, 50, 'UK', date '2021-01-01', "
            "timestamp '2023-12-01' from range(1, 4) r(i)",
            {"age": age},
        )
        run_model(con, settings.sql_dir, "staging", "stg_customers")


def read_artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return found


def test_validate_publishes_artifacts_and_passes(
    prefect_harness, segments_home: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SEGMENTS_DATA_DOCS", "always")
    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    build_customers(settings, age=40)
    outcomes = validate_customers("run-ok")
    assert [o.suite for o in outcomes] == ["stg_customers"] and outcomes[0].success
    # the session's Prefect server also holds other tests' runs: find this run's artifacts
    tables = read_artifact(artifact_key("results", "validate_staging"))
    assert any(t.type == "table" and "age_years" in str(t.data) for t in tables)
    links = read_artifact(artifact_key("docs", "validate_staging"))
    assert any("reports/run-ok/data_docs/index.html" in str(link.data) for link in links)
    docs = settings.reports_dir / "run-ok" / "data_docs"
    index = (docs / "index.html").read_text()
    # offline Data Docs: the index lists the suite (GX's drew it with JavaScript from a CDN)
    assert "stg_customers" in index and "passed" in index and "results</a>" in index
    for page in (p for p in docs.rglob("*.html") if "_gx_store" not in p.parts):
        html = page.read_text()
        assert not re.search(r"<(link|script)[^>]+(href|src)=\"https?://", html), page


def test_a_clean_stage_builds_no_data_docs_by_default(prefect_harness, segments_home: Path):
    """SEGMENTS_DATA_DOCS=on_failure (the default): results in ops.dq_results, no pages."""
    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    build_customers(settings, age=40)
    (outcome,) = validate_customers("run-quiet")
    assert outcome.success and outcome.docs_path is None
    assert not (settings.reports_dir / "run-quiet").exists()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        stored = con.execute(
            "select count(*) from ops.dq_results where run_id = 'run-quiet'"
        ).fetchone()[0]
    assert stored == len(outcome.results) > 0


def test_a_critical_failure_fails_the_flow_and_the_stage(prefect_harness, segments_home: Path):
    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    build_customers(settings, age=130)
    with pytest.raises(CriticalExpectationError, match=r"age_years.*130"):
        validate_customers("run-bad")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        status, message = con.execute(
            "select status, message from ops.runs where run_id = 'run-bad' "
            "and stage = 'validate_staging'"
        ).fetchone()
        stored = con.execute(
            "select count(*) from ops.dq_results where run_id = 'run-bad' and not success"
        ).fetchone()[0]
    assert status == "failed" and "stg_customers" in message
    assert stored == 1
    # on failure Data Docs are built (default on_failure), the failed suite's page included
    docs = settings.reports_dir / "run-bad" / "data_docs"
    assert "age_years" in (docs / "index.html").read_text()
    assert list((docs / "validations" / "stg_customers").rglob("*.html"))
