"""Retrain only: features as of a date, fit candidates, promote only a better model."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.hooks import record_failure, run_id_of
from flows.params import RetrainParams, param
from segments.locks import warehouse_lock
from segments.runs import record_stage
from segments.settings import Settings
from tasks.cluster import fit_candidates
from tasks.features import build_features_task
from tasks.validate import validate
from tasks.warehouse import prepare_warehouse_task


@flow(
    name="retrain_segments",
    log_prints=True,
    on_failure=[record_failure],
    flow_run_name=lambda: f"retrain-{param(runtime.flow_run.parameters, 'as_of') or 'today'}",
)
def retrain_segments(params: RetrainParams | None = None) -> dict[str, Any]:
    """Fit a challenger on current features; the champion changes only if it is beaten."""
    params = params or RetrainParams()
    settings = Settings()
    as_of = params.resolved_as_of()
    run_id = run_id_of(runtime.flow_run)
    with warehouse_lock(settings.home, run_id, timeout_s=settings.lock_timeout_seconds):
        prepare_warehouse_task(settings)
        record_stage(
            settings,
            run_id,
            "run",
            "running",
            flow_name="retrain_segments",
            as_of=as_of,
            details=params.model_dump(mode="json"),
        )
        build_features_task(settings, run_id, as_of)
        validate(
            settings,
            ["customer_features"],
            run_id,
            "validate_features",
            {
                "as_of": as_of,
                "date_floor": settings.date_floor,
                "run_id": run_id,
                "feature_set": params.feature_set,
            },
        )
        result = fit_candidates(
            settings,
            run_id,
            as_of,
            params.feature_set,
            "always",
            params.train_config(settings.seed),
        )
        record_stage(
            settings,
            run_id,
            "run",
            "completed",
            flow_name="retrain_segments",
            as_of=as_of,
            details=result,
        )
    return result


if __name__ == "__main__":
    retrain_segments()
