"""The per-bucket stages of a run on Dask (SEGMENTS_PARTITIONS > 1): the flow process splits
and gathers, Prefect's DaskTaskRunner maps the bucket tasks over the cluster's workers.

One cluster serves a whole run: an existing scheduler (SEGMENTS_DASK_ADDRESS) or a
LocalCluster of SEGMENTS_DASK_WORKERS single-threaded worker processes started for the run
and closed after it. What runs where: docs/scale-out.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prefect.futures import wait
from prefect.utilities.annotations import unmapped

from segments.core.runs import RunContext
from segments.quality import SuiteOutcome, suite_params
from segments.scale import worker_threads
from segments.settings import Settings
from tasks.scale import (
    compute_bucket_features_task,
    gather_checks_task,
    gather_features_task,
    gather_scores_task,
    score_bucket_task,
    stage_check_buckets_task,
    stage_feature_buckets_task,
    stage_scoring_buckets_task,
    validate_bucket_task,
)
from tasks.validate import report_and_gate


@dataclass(frozen=True)
class Cluster:
    """Where the bucket tasks run: a scheduler address, and DuckDB threads per bucket task."""

    address: str
    threads: int | None


@contextmanager
def dask_cluster(settings: Settings) -> Iterator[Cluster | None]:
    """The run's Dask cluster; None when the run stays in one process (partitions = 1)."""
    if settings.partitions == 1:
        yield None
        return
    if settings.dask_address:
        # a remote worker's cores are its own: DuckDB takes them all unless SEGMENTS_THREADS
        yield Cluster(settings.dask_address, settings.threads)
        return
    from distributed import Client, LocalCluster, fire_and_forget

    with (
        LocalCluster(
            n_workers=settings.dask_workers,
            threads_per_worker=1,  # one bucket at a time per worker: DuckDB has the cores
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster.scheduler_address, set_as_default=False) as client,
    ):
        # fresh worker processes import Prefect's engine and the bucket code once (seconds
        # each); started now, it overlaps the flow process's ingest instead of the first bucket
        for worker in client.scheduler_info()["workers"]:
            fire_and_forget(client.submit(warm_up, workers=[worker], pure=False))
        yield Cluster(cluster.scheduler_address, worker_threads(settings, settings.dask_workers))


def warm_up() -> None:
    """Import what a bucket task runs (on a worker, before its first bucket)."""
    import prefect.task_engine  # noqa: F401

    import tasks.scale  # noqa: F401
    from segments.scale import preload_bucket_code

    preload_bucket_code()


def _runner(cluster: Cluster) -> Any:
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=cluster.address)


def _results(futures: Any) -> list[dict[str, Any]]:
    wait(futures)
    return [future.result() for future in futures]


def _phases(started: float, split: float, mapped: float) -> dict[str, float]:
    """Seconds of the split (flow process), the mapped buckets (cluster) and the gather."""
    now = time.perf_counter()
    return {
        "split": round(split - started, 3),
        "buckets": round(mapped - split, 3),
        "gather": round(now - mapped, 3),
    }


def build_features_on_buckets(ctx: RunContext, cluster: Cluster) -> dict[str, Any]:
    """Split staging by bucket, features of every bucket on the workers, gather: one
    `features` stage in ops.runs, as in one process, with each bucket's rows and seconds."""
    with ctx.stage("features") as details, _runner(cluster) as runner:
        started = time.perf_counter()
        details["split"] = stage_feature_buckets_task(ctx)
        split = time.perf_counter()
        futures = runner.map(
            compute_bucket_features_task,
            {
                "settings": unmapped(ctx.settings),
                "as_of": unmapped(ctx.as_of),
                "bucket": list(range(ctx.settings.partitions)),
                "threads": unmapped(cluster.threads),
            },
        )
        details["buckets"] = _results(futures)
        mapped = time.perf_counter()
        details.update(gather_features_task(ctx))
        details["seconds"] = _phases(started, split, mapped)
    return details


def score_customers_on_buckets(ctx: RunContext, cluster: Cluster) -> dict[str, Any]:
    """Split the run's features by bucket, score every bucket on the workers, gather: one
    `score` stage, as in one process."""
    with ctx.stage("score") as details, _runner(cluster) as runner:
        started = time.perf_counter()
        champion = stage_scoring_buckets_task(ctx)
        split = time.perf_counter()
        futures = runner.map(
            score_bucket_task,
            {
                "settings": unmapped(ctx.settings),
                "as_of": unmapped(ctx.as_of),
                "bucket": list(range(ctx.settings.partitions)),
                "artifact_path": unmapped(champion["artifact_path"]),
                "feature_set": unmapped(champion["feature_set"]),
                "threads": unmapped(cluster.threads),
            },
        )
        details["buckets"] = _results(futures)
        mapped = time.perf_counter()
        details.update(gather_scores_task(ctx))
        details["seconds"] = _phases(started, split, mapped)
    return details


def validate_on_buckets(
    ctx: RunContext, cluster: Cluster, stage: str, feature_set: str
) -> list[SuiteOutcome]:
    """A validation stage with its per-customer checks mapped over the buckets and the rest
    run once on the gathered relation: one stage in ops.runs, the same results, artifacts and
    gate as `validate` in one process (a failing bucket stops the run before publish)."""
    params = suite_params(
        ctx.settings, run_id=ctx.run_id, as_of=ctx.as_of, feature_set=feature_set
    )
    with ctx.stage(stage) as details, _runner(cluster) as runner:
        started = time.perf_counter()
        details["split"] = stage_check_buckets_task(ctx, stage, params)
        split = time.perf_counter()
        futures = runner.map(
            validate_bucket_task,
            {
                "settings": unmapped(ctx.settings),
                "stage": unmapped(stage),
                "bucket": list(range(ctx.settings.partitions)),
                "run_id": unmapped(ctx.run_id),
                "params": unmapped(params),
                "threads": unmapped(cluster.threads),
            },
        )
        buckets = _results(futures)
        mapped = time.perf_counter()
        outcomes = gather_checks_task(ctx, stage, params, buckets)
        details["buckets"] = [
            {key: b[key] for key in ("bucket", "failed", "seconds")} for b in buckets
        ]
        details["seconds"] = _phases(started, split, mapped)
        report_and_gate(ctx, stage, details, outcomes)
    return outcomes
