"""Scoring by customer bucket: the flow process splits the run's features (and lifetime
values) into the bucket lake, each worker predicts its bucket with the champion, and the flow
process writes the gathered scores to ops.scores (segments.lifecycle.score does each step)."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import duckdb

from segments.core.lake import duckdb_path
from segments.features import FEATURE_SETS
from segments.lifecycle import champion_or_fail, predict_segments, write_scores
from segments.scale.lakefiles import (
    bucket_file,
    bucket_glob,
    bucket_url,
    load_table,
    worker_connection,
    write_buckets,
    write_file,
)
from segments.settings import Settings

CLV = "features.customer_clv"
PURCHASES = "features.customer_features"


def purchase_inputs() -> list[str]:
    """What a model of the purchase feature sets reads: the features and their CLV."""
    return [PURCHASES, CLV]


def _inputs(feature_set: str) -> list[str]:
    """The relations a model of this feature set reads (load_features: + the CLV columns)."""
    relation = FEATURE_SETS[feature_set].relation
    return purchase_inputs() if relation == PURCHASES else [relation]


def _scoring_parts(as_of: date, relation: str) -> tuple[str, ...]:
    return ("scoring", f"as_of={as_of.isoformat()}", relation)


def stage_model_inputs(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, relations: list[str]
) -> dict[str, list[str]]:
    """The run's rows of model input relations split by bucket: {relation: bucket files}."""
    files = {}
    for relation in relations:
        write_buckets(
            con,
            f"select * from {relation} where as_of = $as_of",
            {"as_of": as_of},
            bucket_url(settings, *_scoring_parts(as_of, relation)),
            settings.partitions,
        )
        files[relation] = [
            bucket_glob(settings, bucket, *_scoring_parts(as_of, relation))
            for bucket in range(settings.partitions)
        ]
    return files


def stage_scoring_buckets(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date
) -> dict[str, Any]:
    """The champion and the run's model inputs split by bucket for the workers."""
    champion = champion_or_fail(con)
    stage_model_inputs(con, settings, as_of, _inputs(champion.feature_set))
    return {
        "model_version": champion.model_version,
        "feature_set": champion.feature_set,
        "artifact_path": str(champion.artifact_path),
    }


def score_bucket(
    settings: Settings,
    as_of: date,
    bucket: int,
    *,
    artifact_path: str,
    feature_set: str,
    threads: int | None = None,
) -> dict[str, Any]:
    """One bucket's scores on a worker: (customer_id, segment_id) to the bucket lake."""
    started = time.perf_counter()
    con = worker_connection(settings, threads)
    try:
        for relation in _inputs(feature_set):
            load_table(
                con, relation, bucket_glob(settings, bucket, *_scoring_parts(as_of, relation))
            )
        scores = predict_segments(con, artifact_path, feature_set, settings.model_threads)
        con.register("_bucket_scores", scores)
        write_file(con, "_bucket_scores", _scores_file(settings, as_of, bucket))
        con.unregister("_bucket_scores")
    finally:
        con.close()
    return {
        "bucket": bucket,
        "customers": len(scores),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _scores_file(settings: Settings, as_of: date, bucket: int) -> str:
    return bucket_file(settings, bucket, "scores", f"as_of={as_of.isoformat()}")


def gather_scores(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str, as_of: date
) -> dict[str, Any]:
    """Every bucket's scores into ops.scores for the run, as a one-process scoring writes them."""
    champion = champion_or_fail(con)
    files = [
        duckdb_path(_scores_file(settings, as_of, bucket)) for bucket in range(settings.partitions)
    ]
    scores = con.execute(
        "select customer_id, segment_id from read_parquet($files, hive_partitioning = false)",
        {"files": files},
    ).df()
    return write_scores(con, scores, champion=champion, run_id=run_id, as_of=as_of)
