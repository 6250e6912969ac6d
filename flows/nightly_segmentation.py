"""The nightly flow: ingest -> validate -> features -> (re)train -> score -> validate -> publish."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.hooks import record_failure, run_id_of
from flows.params import NightlyParams, param
from segments.locks import warehouse_lock
from segments.runs import record_stage
from segments.settings import Settings
from tasks.cluster import fit_candidates, score_customers_task
from tasks.features import build_features_task
from tasks.ingest import ingest_landing_task
from tasks.publish import build_candidate_task, publish_segments_task
from tasks.report import build_report_task
from tasks.summary import summarise_run
from tasks.validate import validate
from tasks.warehouse import prepare_warehouse_task

STAGING_SUITES = ["stg_transactions", "stg_customers", "stg_events"]


def run_name() -> str:
    """Run names carry the as_of, so the Prefect UI list reads as a calendar."""
    as_of = param(runtime.flow_run.parameters, "as_of")
    return f"nightly-{as_of or NightlyParams().resolved_as_of()}"


@flow(
    name="nightly_segmentation",
    log_prints=True,
    flow_run_name=run_name,
    on_failure=[record_failure],
    on_crashed=[record_failure],
)
def nightly_segmentation(params: NightlyParams | None = None) -> dict[str, Any]:
    """Run the whole pipeline once for one as_of date; one run writes at a time."""
    params = params or NightlyParams()
    settings = Settings()
    as_of = params.resolved_as_of()
    run_id = run_id_of(runtime.flow_run)
    with warehouse_lock(settings.home, run_id, timeout_s=settings.lock_timeout_seconds):
        prepare_warehouse_task(settings)
        record_stage(
            settings, run_id, "run", "running", as_of=as_of, details=params.model_dump(mode="json")
        )
        dq = {
            "as_of": as_of,
            "date_floor": settings.date_floor,
            "run_id": run_id,
            "feature_set": params.feature_set,
        }
        summary: dict[str, Any] = {"run_id": run_id, "as_of": as_of.isoformat()}
        summary["ingest"] = ingest_landing_task(settings, run_id)
        validate(settings, STAGING_SUITES, run_id, "validate_staging", dq)
        summary["features"] = build_features_task(settings, run_id, as_of)
        validate(settings, ["customer_features"], run_id, "validate_features", dq)
        summary["train"] = fit_candidates(
            settings,
            run_id,
            as_of,
            params.feature_set,
            params.retrain,
            params.train_config(settings.seed),
        )
        summary["score"] = score_customers_task(settings, run_id, as_of, params.feature_set)
        build_candidate_task(settings, run_id, as_of)
        validate(settings, ["customer_segments"], run_id, "validate_segments", dq)
        summary["publish"] = publish_segments_task(settings, run_id, as_of)
        summary["report"] = str(build_report_task(settings, run_id))
        summarise_run(settings, run_id, as_of, summary)
    return summary


if __name__ == "__main__":
    nightly_segmentation()
