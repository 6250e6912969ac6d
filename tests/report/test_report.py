"""The run report of a small demo run: self-contained, every section present or explained."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from segments.core.db import connect
from segments.report import build_report
from segments.settings import Settings

AS_OF = date(2026, 1, 1)
# a script, link, image or frame fetched from the network would break the offline promise
NETWORK_REF = re.compile(
    r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", re.IGNORECASE
)


def _score(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    from segments.lifecycle import score_customers

    score_customers(con, run_id=run_id, as_of=AS_OF, feature_set_name="retail")


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Demo data (300 customers) through ingest, features, training and two scored runs.

    r1 is recorded as published, so r2's report has a migration; r2 is reported last.
    """
    from segments.core.runs import record_stage
    from segments.core.warehouse import prepare_warehouse
    from segments.demo.generate import generate_demo
    from segments.features import build_features
    from segments.ingest import ingest_landing, refresh_staging
    from segments.lifecycle import train_challenger
    from segments.models import TrainConfig

    settings = Settings(home=tmp_path_factory.mktemp("retail"), pii_key="test-key")
    generate_demo(settings.landing_dir, customers=300, seed=11)
    prepare_warehouse(settings)
    with connect(settings) as con:
        ingest_landing(con, settings, "r1")
        refresh_staging(con, settings)
        build_features(con, settings, AS_OF)
        train_challenger(
            con,
            settings,
            run_id="r1",
            as_of=AS_OF,
            feature_set_name="retail",
            config=TrainConfig(k_min=3, k_max=5, bootstrap_rounds=2, backtest_horizon_days=0),
        )
        _score(con, "r1")
    record_stage(
        settings,
        "r1",
        "publish",
        "completed",
        flow_name="nightly_segmentation",
        as_of=AS_OF,
        started_at=datetime(2026, 1, 1, 2),
    )
    with connect(settings) as con:
        _score(con, "r2")
        build_report(con, settings, "r1")
        build_report(con, settings, "r2")
    yield settings


def _page(settings: Settings, run_id: str) -> str:
    return (settings.reports_dir / run_id / "index.html").read_text(encoding="utf-8")


def test_report_and_latest_are_written_and_identical(retail: Settings) -> None:
    latest = retail.reports_dir / "latest" / "index.html"
    assert latest.read_text(encoding="utf-8") == _page(retail, "r2")
    assert (retail.reports_dir / "r1" / "index.html").is_file()
    leftovers = [p for p in retail.reports_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_report_is_self_contained_and_small(retail: Settings) -> None:
    page = _page(retail, "r2")
    assert NETWORK_REF.search(page) is None
    assert "cdn.plot.ly/plotly" not in page.split("</head>", 1)[1]  # no CDN loader in the body
    assert page.count("<script") == page.count("</script>")
    # plotly.js embedded once; one newPlot call per chart
    assert page.count("window.PlotlyConfig") <= 1
    charts = int(re.search(r'data-charts="(\d+)"', page).group(1))
    assert page.count("Plotly.newPlot(") == charts
    assert len(page.encode()) < 10_000_000


def test_every_section_and_chart_is_there(retail: Settings) -> None:
    page = _page(retail, "r2")
    for text in (
        "Loads of this run",
        "Descriptive statistics",
        "Feature distributions",
        "Days since last purchase vs spend",
        "Orders vs spend",
        "Spearman correlation",
        "Elbow curve",
        "Internal validity per candidate",
        "Stability per candidate",
        "Why this model",
        "PCA of the model",
        "t-SNE",
        "Key features vs population",
        "Top products by lift",
        "RFM grid",
        "RFM segment vs model segment",
        "Migration since the previous publish",
        "Compared with run r1",
    ):
        assert text in page, text
    assert "No backtest is recorded for this model yet." in page
    assert "No quality results were recorded for this run." in page
    # r2 loaded nothing new: no load or quarantine charts, but a migration matrix
    assert "This run loaded no new landing files." in page
    assert int(re.search(r'data-charts="(\d+)"', page).group(1)) == 13


def test_loads_and_quarantine_of_the_loading_run(retail: Settings) -> None:
    page = _page(retail, "r1")
    for text in (
        "Rows per source file loaded in this run",
        "Quarantined lines by reason",
        "demo_transactions",
        "missing_required",
    ):
        assert text in page, text
    assert int(re.search(r'data-charts="(\d+)"', page).group(1)) == 14


def test_first_publish_says_there_is_no_migration(retail: Settings) -> None:
    page = _page(retail, "r1")
    assert "No previous publish to compare with" in page
    assert "Migration since the previous publish" not in page


def test_segment_filter_lists_every_segment(retail: Settings) -> None:
    page = _page(retail, "r2")
    with connect(retail) as con:
        names = [
            r[0]
            for r in con.execute(
                "select distinct segment_name from ops.scores where run_id = 'r2' order by 1"
            ).fetchall()
        ]
    options = re.findall(r'<option value="([^"]+)">', page)
    assert sorted(options) == names
    for name in names:
        assert f'data-segment="{name}"' in page


def test_quality_and_backtest_rows_are_shown_when_recorded(retail: Settings) -> None:
    with connect(retail) as con:
        version = con.execute(
            "select any_value(model_version) from ops.scores where run_id = 'r2'"
        ).fetchone()[0]
        con.execute(
            "insert into ops.dq_results (run_id, stage, suite, relation, "
            "expectation_type, column_name, severity, success, observed_value, "
            "validated_at) values ('r2', 'staging', 'stg_events', 'staging.stg_events', "
            "'expect_column_values_to_not_be_null', 'session_id', 'warning', false, "
            "'3 nulls', now()::timestamp), ('r2', 'staging', 'stg_events', "
            "'staging.stg_events', 'expect_table_row_count_to_be_between', null, "
            "'critical', true, '91', now()::timestamp)"
        )
        con.execute(
            "insert into ops.backtests (model_version, run_id, cutoff, horizon_days, "
            "method, segment_id, segment_name, customers, retention, "
            "revenue_per_customer, avg_order_value, recorded_at) values "
            "($v, 'r2', '2025-10-01', 90, 'model', 0, 'Seg zero', 120, 0.4567, 321.5, "
            "80.25, now()::timestamp), ($v, 'r2', '2025-10-01', 90, 'rfm_baseline', "
            "null, 'Champions', 40, 0.61, 500.0, 90.0, now()::timestamp)",
            {"v": version},
        )
        try:
            page = build_report(con, retail, "r2").read_text(encoding="utf-8")
        finally:
            con.execute("delete from ops.dq_results where run_id = 'r2'")
            con.execute("delete from ops.backtests where run_id = 'r2'")
    assert "expect_column_values_to_not_be_null" in page and "3 nulls" in page
    assert "rfm_baseline" in page and "Seg zero" in page and "45.7%" in page


def test_a_run_without_scores_is_refused_with_a_hint(retail: Settings) -> None:
    with connect(retail) as con, pytest.raises(ValueError, match="score customers"):
        build_report(con, retail, "never-ran")


def test_run_ids_become_safe_folder_names() -> None:
    from segments.report.render import safe_dirname

    assert safe_dirname("nightly 2026/01/01") == "nightly_2026_01_01"
    with pytest.raises(ValueError):
        safe_dirname("latest")
    with pytest.raises(ValueError):
        safe_dirname("../..")


def test_write_atomic_replaces_whole_files(tmp_path: Path) -> None:
    from segments.report.render import write_atomic

    target = tmp_path / "r" / "index.html"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["index.html"]


def test_build_report_task_links_the_report_from_the_flow_run(
    retail: Settings, prefect_harness: None
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from segments.core.runs import RunContext
    from tasks.report import build_report_task

    @flow(name="report_only")
    def report_only() -> str:
        return build_report_task(RunContext(retail, "r2", "report_only"))

    path = Path(report_only())
    assert path == retail.reports_dir / "r2" / "index.html"
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["run-report"]))
        )
    assert artifacts, "no run-report artifact"
    # Prefect stores a link artifact as markdown: [Run report r2](file:///.../index.html)
    # the session's Prefect server also holds other tests' runs: find this one's link
    ours = [a for a in artifacts if f"({path.resolve().as_uri()})" in str(a.data)]
    assert len(ours) == 1 and ours[0].flow_run_id is not None


def test_model_charts_are_drawn_once_and_reused_unchanged(retail: Settings) -> None:
    """Candidate and embedding charts are kept beside the model; the reused HTML is what
    drawing them anew gives, and it is what the page shows."""
    import shutil

    from segments.report.chart_cache import PLACEHOLDER, cache_dir

    with connect(retail) as con:
        (artifact,) = con.execute(
            "select m.artifact_path from ops.scores s join ops.model_registry m "
            "using (model_version) where s.run_id = 'r2' limit 1"
        ).fetchone()
    folder = cache_dir(artifact)
    stored = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.html")}
    assert {n.rsplit("-", 1)[0] for n in stored} >= {"metrics", "embedding-pca", "embedding-tsne"}
    page = _page(retail, "r2")  # r1's report drew them, r2's reused them
    assert PLACEHOLDER not in page
    for html in stored.values():
        assert all(piece in page for piece in html.split(PLACEHOLDER))
    shutil.rmtree(folder)
    with connect(retail) as con:
        build_report(con, retail, "r2")
    assert {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.html")} == stored


def test_a_changed_input_draws_the_chart_anew() -> None:
    import pandas as pd

    from segments.report.chart_cache import digest

    frame = pd.DataFrame({"k": [2, 3], "score": [0.5, 0.7]})
    changed = frame.assign(score=[0.5, 0.71])
    assert digest("metrics", (frame,), "plotly_white") == digest(
        "metrics", (frame.copy(),), "plotly_white"
    )
    assert digest("metrics", (frame,), "plotly_white") != digest(
        "metrics", (changed,), "plotly_white"
    )
    assert digest("metrics", (frame, {1: "a"}), "t") != digest("metrics", (frame, {1: "b"}), "t")
