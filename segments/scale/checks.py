"""Validation by customer bucket: the flow process splits each suite's batch into the bucket
lake, each worker runs the suite's per-customer checks on its bucket (GX on an in-memory
DuckDB over the bucket's Parquet), and the flow process runs the rest once on the gathered
relation, then records one row per expectation in ops.dq_results, as one process does.

Which checks run where is one rule, segments.quality.per_bucket; a failing bucket fails the
stage like a failing table, naming the bucket in the observed value.
"""

from __future__ import annotations

import re
import time
from typing import Any

import duckdb
import pandas as pd

from segments.core.sql import apply_schema
from segments.quality import (
    VALIDATION_STAGES,
    SuiteOutcome,
    applies,
    combine_buckets,
    empty_outcome,
    in_suite_order,
    load_suite,
    per_bucket,
    run_stage_suites,
    suite_outcome,
    validate_suites,
    whole_relation,
    write_results,
)
from segments.scale.lakefiles import bucket_glob, bucket_url, load_table, worker_connection
from segments.scale.lakefiles import write_buckets as split_by_bucket
from segments.settings import Settings

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _docs(settings: Settings, stage: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The stage's suites that apply to this run and have checks for the buckets."""
    docs = [load_suite(settings.expectations_dir, name) for name in VALIDATION_STAGES[stage]]
    return [
        doc
        for doc in docs
        if applies(doc["meta"], params) and any(per_bucket(e) for e in doc["expectations"])
    ]


def _parts(stage: str, suite: str) -> tuple[str, ...]:
    return ("checks", stage, suite)


def stage_check_buckets(
    con: duckdb.DuckDBPyConnection, settings: Settings, stage: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Each suite's batch (its relation, narrowed by its batch_filter) split by bucket."""
    started = time.perf_counter()
    suites = []
    for doc in _docs(settings, stage, params):
        meta = doc["meta"]
        if meta.get("incremental"):  # its batch is the loads it has not passed: one process
            raise ValueError(f"suite {doc['name']!r} is incremental: validate it in one process")
        where = meta.get("batch_filter")
        select = f"select * from {meta['relation']}" + (f" where {where}" if where else "")
        values = {name: params[name] for name in _PARAM.findall(where or "")}
        split_by_bucket(
            con,
            select,
            values,
            bucket_url(settings, *_parts(stage, doc["name"])),
            settings.partitions,
        )
        suites.append(doc["name"])
    return {"suites": suites, "seconds": round(time.perf_counter() - started, 3)}


def validate_bucket(
    settings: Settings,
    stage: str,
    bucket: int,
    *,
    run_id: str,
    params: dict[str, Any],
    threads: int | None = None,
) -> dict[str, Any]:
    """One bucket's per-customer checks on a worker: its Parquet loaded under the suite's
    relation name, the suites narrowed to `per_bucket`, no Data Docs (rows go back instead)."""
    started = time.perf_counter()
    con = worker_connection(settings, threads)
    try:
        apply_schema(con, settings.sql_dir)  # the relations' schemas and ops.dq_results
        docs = _docs(settings, stage, params)
        for doc in docs:
            load_table(
                con,
                doc["meta"]["relation"],
                bucket_glob(settings, bucket, *_parts(stage, doc["name"])),
            )
        outcomes = validate_suites(
            con,
            [doc["name"] for doc in docs],
            expectations_dir=settings.expectations_dir,
            run_id=run_id,
            stage=stage,
            params=params,
            keep=per_bucket,
        )
    finally:
        con.close()
    return {
        "bucket": bucket,
        "rows": {outcome.suite: outcome.results for outcome in outcomes},
        "failed": sorted(o.suite for o in outcomes if not o.success),
        "seconds": round(time.perf_counter() - started, 3),
    }


def gather_checks(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    stage: str,
    *,
    run_id: str,
    params: dict[str, Any],
    buckets: list[dict[str, Any]],
) -> list[SuiteOutcome]:
    """The whole-relation checks on the warehouse (with Data Docs), the buckets' rows added
    up and recorded beside them: one outcome per suite, as one process gives."""
    whole = {
        outcome.suite: outcome
        for outcome in run_stage_suites(
            con, settings, stage, run_id=run_id, params=params, keep=whole_relation
        )
    }
    found = {int(b["bucket"]) for b in buckets}
    if found != set(range(settings.partitions)):
        raise RuntimeError(f"{stage}: results of buckets {sorted(found)} only")
    outcomes = []
    for name in VALIDATION_STAGES[stage]:
        doc = load_suite(settings.expectations_dir, name)
        once = whole.get(name) or empty_outcome(name, doc["meta"]["relation"])
        frames = {int(b["bucket"]): b["rows"][name] for b in buckets if name in b["rows"]}
        on_buckets = combine_buckets(frames)
        if on_buckets.empty and once.results.empty:  # the suite does not apply to this run
            outcomes.append(once)
            continue
        if not on_buckets.empty:
            write_results(con, on_buckets)
        seconds = once.seconds + max(
            (float(b["seconds"]) for b in buckets if name in b["rows"]), default=0.0
        )
        frame = in_suite_order(doc, on_buckets, _rows(once.results))
        outcomes.append(suite_outcome(doc, frame, docs_path=once.docs_path, seconds=seconds))
    return outcomes


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index(drop=True)
