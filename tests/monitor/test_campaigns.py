"""Campaign feedback on demo data: the campaigns source loads (bad rows quarantined), and
marts.campaign_results recovers the demo's known, segment-dependent effect within its
intervals; the campaign without a control group shows plain rates only."""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pandas as pd
import pytest

from segments.core.db import connect
from segments.core.pii import pseudonym
from segments.core.warehouse import prepare_warehouse
from segments.demo import campaign_plan, generate_demo
from segments.features import build_feature_stage
from segments.ingest import ingest_landing, refresh_staging
from segments.lifecycle import score_customers, train_challenger
from segments.models import TrainConfig
from segments.publish import build_candidate, publish_segments
from segments.settings import Settings

CUSTOMERS, SEED = 3000, 13
FIRST = date(2025, 10, 9)  # a publish before the first send (2025-10-16)
LAST = date(2026, 1, 1)  # after every response


def _publish(con, settings: Settings, run_id: str, as_of: date) -> None:
    build_feature_stage(con, settings, as_of)
    score_customers(con, run_id=run_id, as_of=as_of, feature_set_name="retail")
    build_candidate(con, settings, run_id=run_id, as_of=as_of)
    publish_segments(con, settings, run_id=run_id, as_of=as_of)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Settings, pd.DataFrame, pd.DataFrame, list]:
    settings = Settings(home=tmp_path_factory.mktemp("campaigns"), pii_key="campaign-key")
    generate_demo(settings.landing_dir, customers=CUSTOMERS, seed=SEED)
    prepare_warehouse(settings)
    with connect(settings) as con:
        loads = ingest_landing(con, settings, "load")
        refresh_staging(con, settings)
        build_feature_stage(con, settings, FIRST)
        train_challenger(
            con,
            settings,
            run_id="first",
            as_of=FIRST,
            feature_set_name="retail",
            config=TrainConfig(k_min=3, k_max=6, bootstrap_rounds=2),
        )
        _publish(con, settings, "first", FIRST)
        _publish(con, settings, "last", LAST)
        results = con.execute("select * from marts.campaign_results").df()
        # the segment at send: every send falls between the two publishes
        stays = con.execute(
            "select customer_id, segment_id from marts.segment_history where valid_from = $d",
            {"d": FIRST},
        ).df()
        quarantine = con.execute(
            "select reason_code, count(*) from ops.quarantine where source = 'demo_campaigns' "
            "group by 1 order by 1"
        ).fetchall()
    plan = campaign_plan(customers=CUSTOMERS, seed=SEED)
    key = settings.pii_key.get_secret_value().encode()
    truth = pd.DataFrame(
        {
            "campaign_id": [f"CMP{c + 1:03d}" for c in plan.campaign],
            "customer_id": [pseudonym(f"C{c + 1:07d}", key) for c in plan.customer],
            "control": plan.control,
            "p": [
                pc if ctl else pt
                for ctl, pc, pt in zip(plan.control, plan.p_control, plan.p_treatment)
            ],
        }
    ).merge(stays, on="customer_id", how="left")
    assert [r.status for r in loads if r.source == "demo_campaigns"] == ["loaded"]
    return settings, results, truth, quarantine


def test_bad_campaign_rows_are_quarantined_with_reasons(world):
    *_, quarantine = world
    assert quarantine == [("converted_before_sent", 1), ("invalid_value", 1)]


def test_the_campaign_without_control_has_plain_rates_only(world):
    _, results, _, _ = world
    plain = results[results["campaign_id"] == "CMP003"]
    assert len(plain) >= 3
    assert (plain["control_customers"] == 0).all()
    assert plain["conversion_uplift"].isna().all() and plain["revenue_uplift"].isna().all()
    assert plain["treatment_conversion_rate"].between(0, 1).all()
    assert (results[results["campaign_id"] != "CMP003"]["control_customers"] > 0).all()


def test_uplift_recovers_the_known_effect_within_its_intervals(world):
    _, results, truth, _ = world
    truth = truth[truth["campaign_id"] != "CMP003"]
    groups = truth.groupby(["campaign_id", "segment_id", "control"], dropna=False)["p"].mean()
    expected = (groups.xs(False, level="control") - groups.xs(True, level="control")).rename(
        "true_uplift"
    )
    cells = results[results["conversion_uplift"].notna()].merge(
        expected.reset_index(), on=["campaign_id", "segment_id"], how="inner"
    )
    cells = cells[cells["control_customers"] >= 30]
    assert len(cells) >= 15
    # the effect really depends on the segment: the demo's true uplift differs across them
    by_segment = expected.groupby(level="segment_id", dropna=False).mean()
    assert by_segment.max() - by_segment.min() > 0.02
    covered = (cells["conversion_uplift_low"] <= cells["true_uplift"]) & (
        cells["true_uplift"] <= cells["conversion_uplift_high"]
    )
    assert covered.mean() >= 0.85, cells[~covered][["campaign_id", "segment_name", "true_uplift"]]
    # pooled over every cell, the estimate is within three standard errors of the truth
    treated = (cells["treatment_conversion_rate"] * cells["treatment_customers"]).sum()
    held = (cells["control_conversion_rate"] * cells["control_customers"]).sum()
    n1, n0 = cells["treatment_customers"].sum(), cells["control_customers"].sum()
    p1, p0 = treated / n1, held / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pooled_truth = (cells["true_uplift"] * cells["treatment_customers"]).sum() / n1
    assert abs((p1 - p0) - pooled_truth) < 3 * se + 0.01
    assert p1 - p0 > 2 * se  # and the message does something


def test_results_are_in_serving_and_the_lake(world):
    settings, results, _, _ = world
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        assert con.execute("select count(*) from campaign_results").fetchone()[0] == len(results)
    part = settings.lake_dir / "marts" / "campaign_results" / f"as_of={LAST}.parquet"
    assert duckdb.sql(f"select count(*) from '{part}'").fetchone()[0] == len(results)
