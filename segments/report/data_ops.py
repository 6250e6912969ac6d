"""Report data about the run itself: the model it scored with, loads, quarantine, quality, model
selection. Every reader returns an empty frame (never raises) when its table is not there yet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from segments.report.sql_util import columns_of, frame, table_exists


@dataclass
class RunInfo:
    """Who, when and with what model: the report's header."""

    run_id: str
    as_of: date
    model_version: str
    feature_set: str
    algorithm: str
    k: int
    customers: int
    trained_in_run: str | None
    reason: str
    artifact_path: str
    metrics: dict


def run_info(con: duckdb.DuckDBPyConnection, run_id: str) -> RunInfo:
    """The scored run's model; a run without scores has nothing to report on."""
    row = con.execute(
        "select s.as_of, s.model_version, count(*), m.feature_set, m.algorithm, m.k, m.run_id, "
        "coalesce(m.reason, ''), m.artifact_path, m.metrics from ops.scores s "
        "left join ops.model_registry m using (model_version) where s.run_id = $r "
        "group by all order by 3 desc limit 1",
        {"r": run_id},
    ).fetchone()
    if row is None:
        raise ValueError(
            f"run {run_id!r} has no rows in ops.scores; score customers before building the "
            "report (the report describes a scored run)"
        )
    as_of, version, n, fs, algorithm, k, trained_in, reason, artifact, metrics = row
    if fs is None:
        raise ValueError(f"model {version} of run {run_id!r} is not in ops.model_registry")
    return RunInfo(
        run_id,
        as_of,
        version,
        fs,
        algorithm,
        int(k),
        int(n),
        trained_in,
        reason,
        artifact,
        json.loads(metrics) if metrics else {},
    )


def stages(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """The run's stages from ops.runs (empty when the run was not orchestrated)."""
    return frame(
        con,
        "select stage, status, round(datediff('millisecond', started_at, ended_at) / 1000, 1) "
        "as seconds, coalesce(message, '') as message from ops.runs where run_id = $r "
        "and stage <> 'run' order by started_at",
        {"r": run_id},
    )


def loads(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Row counts of every file this run loaded, the conservation columns side by side."""
    return frame(
        con,
        "select source, entity, path, status, rows_read, rows_staged, rows_quarantined, "
        "duplicates, rows_without_customer from ops.loads where run_id = $r "
        "order by started_at",
        {"r": run_id},
    )


def staged_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What the warehouse holds per source, whichever run loaded it."""
    parts = []
    for entity, relation in (
        ("transactions", "staging.stg_transactions"),
        ("customers", "staging.stg_customers"),
        ("events", "staging.stg_events"),
    ):
        if table_exists(con, relation):
            parts.append(
                frame(
                    con,
                    f"select source, '{entity}' as entity, count(*) as rows "
                    f"from {relation} group by all",
                )
            )
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return out.sort_values(["entity", "source"]).reset_index(drop=True) if len(out) else out


def quarantine(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Rejected lines of this run's loads, by source and reason."""
    return frame(
        con,
        "select q.source, q.reason_code, count(*) as rows, any_value(q.reason) as example "
        "from ops.quarantine q join ops.loads l using (load_id) where l.run_id = $r "
        "group by all order by rows desc, 1, 2",
        {"r": run_id},
    )


def quality(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary per stage and suite, failed expectations) from ops.dq_results."""
    if not table_exists(con, "ops.dq_results"):
        return pd.DataFrame(), pd.DataFrame()
    summary = frame(
        con,
        "select stage, suite, relation, count(*) as evaluated, count(*) filter (success) "
        "as passed, count(*) filter (not success and severity = 'critical') as failed_critical, "
        "count(*) filter (not success and severity <> 'critical') as failed_warning "
        "from ops.dq_results where run_id = $r group by all order by min(validated_at), suite",
        {"r": run_id},
    )
    failed = frame(
        con,
        "select stage, suite, severity, expectation_type, coalesce(column_name, '') as column_name,"
        " coalesce(observed_value, '') as observed_value, unexpected_count "
        "from ops.dq_results where run_id = $r and not success order by severity, suite limit 50",
        {"r": run_id},
    )
    return summary, failed


def candidates(con: duckdb.DuckDBPyConnection, model_version: str) -> pd.DataFrame:
    """Every candidate evaluated when the run's model was trained (maybe in an earlier run)."""
    return frame(
        con,
        "select coalesce(candidate, algorithm || ' k=' || coalesce(k::varchar, '?')) "
        "as candidate, coalesce(recipe, algorithm) as recipe, algorithm, k, params, objective, "
        "backtest_eta2, backtest_retention_spread, silhouette, davies_bouldin, "
        "calinski_harabasz, wcss, bic, noise_share, smallest_share, stability, fit_seconds, "
        "is_knee, coalesce(gate_failures, '') as gate_failures, passed_gates, chosen "
        "from ops.model_candidates where model_version = $v "
        "order by recipe, k, params",
        {"v": model_version},
    )


def backtests(con: duckdb.DuckDBPyConnection, model_version: str) -> pd.DataFrame:
    """The latest backtest of the model and of its baselines (e.g. RFM), per segment."""
    if not table_exists(con, "ops.backtests"):
        return pd.DataFrame()
    return frame(
        con,
        "with latest as (select max(cutoff) as cutoff from ops.backtests "
        "where model_version = $v) "
        "select b.method, b.cutoff, b.horizon_days, coalesce(b.segment_name, 'all') "
        "as segment_name, b.customers, b.retention, b.revenue_per_customer, "
        "b.avg_order_value, b.purchases_per_customer, b.explained_variance, "
        "b.retention_spread from ops.backtests b join latest using (cutoff) "
        "where b.model_version = $v or b.run_id in (select run_id from ops.backtests "
        "where model_version = $v and run_id is not null) "
        "order by b.method, b.segment_id nulls first",
        {"v": model_version},
    )


def segment_quality(con: duckdb.DuckDBPyConnection, model_version: str) -> pd.DataFrame:
    """How good are these segments: the model and its peers on the last matured window
    (the total rows of the model's backtest in ops.backtests)."""
    if "objective" not in columns_of(con, "ops.backtests"):
        return pd.DataFrame()
    return frame(
        con,
        "select case method when 'model' then 'this model (fitted at the cutoff)' "
        "when 'rfm_baseline' then 'named RFM segments' "
        "when 'kmeans_log_rfm' then 'K-means on log RFM, same k' else method end "
        "as segmentation, k, customers, explained_variance as eta2_future_revenue, "
        "retention_spread, retention_eta2, objective, cutoff, horizon_days "
        "from ops.backtests where model_version = $v and segment_name is null "
        "order by case method when 'model' then 0 when 'rfm_baseline' then 1 else 2 end",
        {"v": model_version},
    )
