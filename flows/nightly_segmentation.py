"""The nightly flow: ingest -> validate -> features -> monitor -> (re)train -> score -> validate
-> publish -> monitoring page and report."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.context import flow_run_context
from flows.facts import announce
from flows.hooks import record_failure
from flows.params import NightlyParams, param
from flows.scale_out import (
    build_features_on_buckets,
    dask_cluster,
    score_customers_on_buckets,
    validate_on_buckets,
)
from tasks.cluster import fit_candidates, score_customers_task
from tasks.features import build_features_task
from tasks.ingest import ingest_landing_task
from tasks.monitor import build_monitor_page_task, monitor_models_task
from tasks.publish import build_candidate_task, check_publishable_task, publish_segments_task
from tasks.report import build_report_task, summarise_run
from tasks.validate import validate


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
    as_of = params.resolved_as_of()
    run_params = params.model_dump(mode="json")
    with flow_run_context(as_of=as_of, params=run_params, keep_open=True) as (ctx, summary):
        summary.update(run_id=ctx.run_id, as_of=as_of.isoformat())
        check_publishable_task(ctx)  # a refusal known now is said now, not after every stage
        # SEGMENTS_PARTITIONS > 1: features and scoring per customer bucket on Dask (the
        # cluster starts, and its workers import their code, while the flow process ingests)
        with dask_cluster(ctx.settings) as cluster:
            summary["ingest"] = announce("ingest", ingest_landing_task(ctx))
            validate(ctx, "validate_staging", params.feature_set)
            summary["features"] = (
                build_features_on_buckets(ctx, cluster) if cluster else build_features_task(ctx)
            )
            if cluster:  # the per-customer checks on each bucket, the rest on the gathered
                validate_on_buckets(ctx, cluster, "validate_features", params.feature_set)
            else:
                validate(ctx, "validate_features", params.feature_set)
            summary["monitor"] = monitor_models_task(ctx)
            summary["train"] = announce(
                "train",
                fit_candidates(
                    ctx,
                    params.feature_set,
                    params.retrain,
                    params.train_config(ctx.settings.seed),
                    monitor_reason=summary["monitor"]["retrain_reason"],
                    promote=params.promote,
                    # on buckets: the training sample is read from the buckets' Parquet
                    training_files=summary["features"].get("inputs") if cluster else None,
                ),
            )
            summary["score"] = announce(
                "score",
                score_customers_on_buckets(ctx, cluster)
                if cluster
                else score_customers_task(ctx, params.feature_set),
            )
            build_candidate_task(ctx)
            # the customers scored are the champion's: its feature set, not the run's, when a
            # challenger on another feature set was kept back
            scored = summary["score"]["feature_set"]
            if cluster:
                validate_on_buckets(ctx, cluster, "validate_segments", scored)
            else:
                validate(ctx, "validate_segments", scored)
        summary["publish"] = announce("publish", publish_segments_task(ctx))
        summary["monitor_page"] = build_monitor_page_task(ctx)
        summary["report"] = announce("report", build_report_task(ctx))
        summarise_run(ctx)
    return summary


if __name__ == "__main__":
    nightly_segmentation()
