"""Backfill: the nightly pipeline once per as_of date in a range, oldest first."""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime

from flows.hooks import run_id_of
from flows.nightly_segmentation import nightly_segmentation
from flows.params import BackfillParams, NightlyParams, param
from segments.locks import warehouse_lock
from segments.settings import Settings


@flow(
    name="backfill_segments",
    log_prints=True,
    flow_run_name=lambda: "backfill-{}-{}".format(
        param(runtime.flow_run.parameters, "start"), param(runtime.flow_run.parameters, "end")
    ),
)
def backfill_segments(params: BackfillParams) -> list[dict[str, Any]]:
    """Each date is a nightly subflow; history and migration come out as if run nightly."""
    settings = Settings()
    results = []
    with warehouse_lock(
        settings.home, run_id_of(runtime.flow_run), timeout_s=settings.lock_timeout_seconds
    ):
        for as_of in params.dates():
            nightly = NightlyParams(
                as_of=as_of, retrain=params.retrain, feature_set=params.feature_set
            )
            results.append(nightly_segmentation(nightly))
    return results


if __name__ == "__main__":
    import sys

    backfill_segments(BackfillParams(start=sys.argv[1], end=sys.argv[2]))
