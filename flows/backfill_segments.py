"""Backfill: the nightly pipeline once per as_of date in a range, oldest first."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.context import flow_run_context
from flows.hooks import record_failure
from flows.nightly_segmentation import nightly_segmentation
from flows.params import BackfillParams, NightlyParams, param
from tasks.publish import check_publishable_task


@flow(
    name="backfill_segments",
    log_prints=True,
    on_failure=[record_failure],
    on_crashed=[record_failure],
    flow_run_name=lambda: "backfill-{}-{}".format(
        param(runtime.flow_run.parameters, "start"), param(runtime.flow_run.parameters, "end")
    ),
)
def backfill_segments(params: BackfillParams) -> list[dict[str, Any]]:
    """Each date is a nightly subflow (its own run in ops.runs) inside this run's lock."""
    results = []
    with flow_run_context(params=params.model_dump(mode="json")) as (ctx, summary):
        check_publishable_task(ctx, params.start)  # refused before the first date runs
        for as_of in params.dates():
            nightly = NightlyParams(
                as_of=as_of, retrain=params.retrain, feature_set=params.feature_set
            )
            results.append(nightly_segmentation(nightly))
        summary["runs"] = [r["run_id"] for r in results]
    return results


if __name__ == "__main__":
    import sys

    backfill_segments(BackfillParams(start=sys.argv[1], end=sys.argv[2]))
