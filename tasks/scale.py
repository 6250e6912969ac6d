"""Scale-out tasks: split into buckets and gather in the flow process (the warehouse's one
writer); compute and score one bucket on a Dask worker (Parquet in, Parquet out)."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from segments.core.db import connect
from segments.core.runs import RunContext
from segments.scale import (
    compute_bucket_features,
    gather_checks,
    gather_feature_stage,
    gather_scores,
    score_bucket,
    stage_buckets,
    stage_check_buckets,
    stage_scoring_buckets,
    validate_bucket,
)
from segments.settings import Settings


@task(name="stage_feature_buckets")
def stage_feature_buckets_task(ctx: RunContext) -> dict[str, Any]:
    """Write the staged lines the features read to the bucket lake, split by customer."""
    with connect(ctx.settings) as con:
        return stage_buckets(con, ctx.settings)


# worker tasks take settings and plain values, never the run context (its lock and journal
# belong to the flow process); nothing to cache: a bucket is recomputed every run
@task(name="compute_bucket_features", cache_policy=NO_CACHE)
def compute_bucket_features_task(
    settings: Settings, as_of: date, bucket: int, threads: int | None
) -> dict[str, Any]:
    """One bucket's features from its staged Parquet (on a worker)."""
    return compute_bucket_features(settings, as_of, bucket, threads)


@task(name="gather_features")
def gather_features_task(ctx: RunContext) -> dict[str, Any]:
    """The buckets' features into the warehouse, the RFM quintiles over all, then the CLV."""
    with connect(ctx.settings) as con:
        return gather_feature_stage(con, ctx.settings, ctx.as_of)


@task(name="stage_scoring_buckets")
def stage_scoring_buckets_task(ctx: RunContext) -> dict[str, Any]:
    """Write the run's features split by bucket for the workers; name the champion."""
    with connect(ctx.settings) as con:
        return stage_scoring_buckets(con, ctx.settings, ctx.as_of)


@task(name="score_bucket", cache_policy=NO_CACHE)
def score_bucket_task(
    settings: Settings,
    as_of: date,
    bucket: int,
    artifact_path: str,
    feature_set: str,
    threads: int | None,
) -> dict[str, Any]:
    """One bucket's segments with the champion (on a worker)."""
    return score_bucket(
        settings,
        as_of,
        bucket,
        artifact_path=artifact_path,
        feature_set=feature_set,
        threads=threads,
    )


@task(name="gather_scores")
def gather_scores_task(ctx: RunContext) -> dict[str, Any]:
    """Every bucket's scores into ops.scores for the run."""
    with connect(ctx.settings) as con:
        return gather_scores(con, ctx.settings, run_id=ctx.run_id, as_of=ctx.as_of)


@task(name="stage_check_buckets")
def stage_check_buckets_task(
    ctx: RunContext, stage: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Write each suite's batch split by customer for the bucket checks."""
    with connect(ctx.settings) as con:
        return stage_check_buckets(con, ctx.settings, stage, params)


@task(name="validate_bucket", cache_policy=NO_CACHE)
def validate_bucket_task(
    settings: Settings,
    stage: str,
    bucket: int,
    run_id: str,
    params: dict[str, Any],
    threads: int | None,
) -> dict[str, Any]:
    """One bucket's per-customer checks (on a worker); results come back, nothing gates here."""
    return validate_bucket(settings, stage, bucket, run_id=run_id, params=params, threads=threads)


@task(name="gather_checks", cache_policy=NO_CACHE)  # its input holds data frames
def gather_checks_task(
    ctx: RunContext, stage: str, params: dict[str, Any], buckets: list[dict[str, Any]]
) -> list[Any]:
    """The whole-relation checks once, the buckets' results added up, all in ops.dq_results."""
    with connect(ctx.settings) as con:
        return gather_checks(
            con, ctx.settings, stage, run_id=ctx.run_id, params=params, buckets=buckets
        )
