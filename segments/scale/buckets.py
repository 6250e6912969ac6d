"""Features by customer bucket: the flow process splits staging into the bucket lake, each
worker runs warehouse/features/*.sql over its bucket, and the flow process gathers them.

Every feature is a function of one customer's rows except the RFM quintiles, which rank a
customer against everyone: the gather recomputes those over all buckets with the same model
file (feat_customer_rfm_scores.sql), so the gathered table equals a one-process build.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import duckdb

from segments.core.lake import duckdb_path, exists, export_table
from segments.core.sql import apply_schema, model_order, run_layer, run_model, temp_models
from segments.features import fit_probabilistic_clv, settings_feature_params
from segments.scale.lakefiles import (
    bucket_file,
    bucket_sources,
    bucket_url,
    load_table,
    split_glob,
    worker_connection,
    write_buckets_by_load,
    write_file,
)
from segments.scale.scoring import purchase_inputs, stage_model_inputs
from segments.settings import Settings

FEATURES = "features"
# the models whose rows compare a customer with every other: recomputed at the gather
POPULATION_MODELS = ("feat_customer_rfm_scores",)


def _kept(settings: Settings) -> list[str]:
    """Feature relations a bucket writes to the lake: every model that is not temp (the
    per-customer aggregates and the feature tables)."""
    temps = temp_models(settings.sql_dir, FEATURES)
    return [name for name in model_order(settings.sql_dir, FEATURES) if name not in temps]


def _per_as_of(name: str) -> bool:
    """Aggregates are all-time (kept per bucket); feature tables are per as_of."""
    return not name.startswith("agg_")


def _parts(name: str, as_of: date) -> tuple[str, ...]:
    return (FEATURES, name, f"as_of={as_of.isoformat()}") if _per_as_of(name) else (FEATURES, name)


def stage_buckets(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    """staging.<table> -> bucket lake staging/<table>/load_id=L/bucket=B/ for every table the
    feature layer reads, only the loads new or changed since the last split (rows without a
    customer are left out: no feature reads them)."""
    started = time.perf_counter()
    tables = bucket_sources(settings.sql_dir)
    loads = {
        table: write_buckets_by_load(
            con,
            f"select * from staging.{table} where customer_id is not null",
            bucket_url(settings, "staging", table),
            settings.partitions,
        )
        for table in tables
    }
    return {"tables": tables, "loads": loads, "seconds": round(time.perf_counter() - started, 3)}


def compute_bucket_features(
    settings: Settings, as_of: date, bucket: int, threads: int | None = None
) -> dict[str, Any]:
    """One bucket's features on a worker: its staged Parquet into an in-memory DuckDB, the
    feature layer rebuilt there from it, every kept relation written to the bucket lake."""
    started = time.perf_counter()
    con = worker_connection(settings, threads)
    try:
        apply_schema(con, settings.sql_dir)
        lines = {
            table: load_table(
                con, f"staging.{table}", split_glob(settings, bucket, "staging", table)
            )
            for table in bucket_sources(settings.sql_dir)
        }
        resumed = _load_state(con, settings, bucket)
        params = settings_feature_params(settings, as_of)
        # incremental from the bucket's last state: only its changed loads and customers
        counts = run_layer(con, settings.sql_dir, FEATURES, params)
        for name in _kept(settings):
            write_file(
                con, f"{FEATURES}.{name}", bucket_file(settings, bucket, *_parts(name, as_of))
            )
        _save_state(con, settings, bucket)
    finally:
        con.close()
    return {
        "bucket": bucket,
        "lines": lines,
        "incremental": resumed,
        "aggregate_rows_written": {k: v for k, v in counts.items() if k.startswith("agg_")},
        "customers": counts.get("customer_features", 0),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _state_tables(settings: Settings) -> list[str]:
    """What a bucket keeps between runs: its incremental aggregates and their bookkeeping."""
    aggregates = [f"{FEATURES}.{name}" for name in _kept(settings) if not _per_as_of(name)]
    return [*aggregates, "ops.incremental_loads", "ops.incremental_models"]


def _state_file(settings: Settings, bucket: int, relation: str) -> str:
    # under the bucket count: bucket B of another count holds other customers
    return bucket_url(
        settings, "state", f"partitions={settings.partitions}", f"bucket={bucket}",
        f"{relation}.parquet",
    )  # fmt: skip


def _load_state(con: duckdb.DuckDBPyConnection, settings: Settings, bucket: int) -> bool:
    """The bucket's aggregates and bookkeeping as its last run left them (False: none yet,
    the layer builds them whole). Stale state is safe: loads are matched by fingerprint and
    the SQL by its hash, so whatever changed since is redone."""
    files = {
        relation: _state_file(settings, bucket, relation) for relation in _state_tables(settings)
    }
    if not all(exists(url) for url in files.values()):
        return False
    for relation, url in files.items():
        con.execute(
            f"insert into {relation} by name "
            "select * from read_parquet($path, hive_partitioning = false)",
            {"path": duckdb_path(url)},
        )
    return True


def _save_state(con: duckdb.DuckDBPyConnection, settings: Settings, bucket: int) -> None:
    for relation in _state_tables(settings):
        write_file(con, relation, _state_file(settings, bucket, relation))


def _files(settings: Settings, name: str, as_of: date) -> list[str]:
    return [
        duckdb_path(bucket_file(settings, bucket, *_parts(name, as_of)))
        for bucket in range(settings.partitions)
    ]


def gather_features(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date
) -> dict[str, int]:
    """The buckets' feature tables into the warehouse (one transaction), the population
    models recomputed over all of them; the warehouse's incremental aggregates are left as
    they are (the next one-process build or backtest brings them up to date)."""
    params = settings_feature_params(settings, as_of)
    counts: dict[str, int] = {}
    con.execute("begin transaction")
    try:
        features = _files(settings, "customer_features", as_of)
        # the rows the population models read, from every bucket
        con.execute(
            "create or replace temp table feat_customer_rfm as select customer_id, "
            "recency_days, frequency, monetary "
            "from read_parquet($files, hive_partitioning = false)",
            {"files": features},
        )
        replaced: list[str] = []
        for name in POPULATION_MODELS:
            run_model(con, settings.sql_dir, FEATURES, name, params)
            columns = [row[0] for row in con.execute(f"describe temp.main.{name}").fetchall()]
            replaced += [f"{name}.{c} as {c}" for c in columns if c != "customer_id"]
        joins = " ".join(
            f"join temp.main.{name} as {name} using (customer_id)" for name in POPULATION_MODELS
        )
        con.execute(
            "create or replace table features.customer_features as "
            f"select bucket_rows.* replace ({', '.join(replaced)}) "
            f"from read_parquet($files, hive_partitioning = false) as bucket_rows {joins}",
            {"files": features},
        )
        counts["customer_features"] = con.execute(
            "select count(*) from features.customer_features"
        ).fetchone()[0]
        for name in _kept(settings):
            if name.startswith("agg_") or name == "customer_features":
                continue
            counts[name] = load_table(con, f"{FEATURES}.{name}", _files(settings, name, as_of))
        for name in ("feat_customer_rfm", *POPULATION_MODELS):
            con.execute(f"drop table if exists temp.main.{name}")
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    return counts


def gather_feature_stage(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date
) -> dict[str, Any]:
    """The feature stage's flow-process half: gather, the lake copy a one-process build also
    writes, then the probabilistic CLV fitted on every customer (one fit, as in one process),
    and the gathered model inputs split by bucket again (`inputs`: what training reads)."""
    rows = gather_features(con, settings, as_of)
    folder = settings.lake_dir / "features" / "customer_features" / f"as_of={as_of.isoformat()}"
    export_table(con, "features.customer_features", folder)
    clv = fit_probabilistic_clv(con, settings, as_of)
    inputs = stage_model_inputs(con, settings, as_of, purchase_inputs())
    return {"rows": rows, "clv": clv, "inputs": inputs}
