"""What the monitoring page shows, read from the warehouse across every run."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from segments.report.sql_util import frame, table_exists


@dataclass
class MonitorData:
    """Every frame may be empty (not measured yet); the page then says so."""

    kpis: pd.DataFrame
    migration: pd.DataFrame
    migration_dates: tuple[str, str] | None
    drift: pd.DataFrame
    monitoring: pd.DataFrame
    training: pd.DataFrame
    campaigns: pd.DataFrame
    watch_psi: float
    act_psi: float


DATE_COLUMNS = ("as_of", "previous_as_of", "publish_as_of")


def _read(con: duckdb.DuckDBPyConnection, relation: str, sql: str) -> pd.DataFrame:
    """Rows of an optional relation; date columns as dates (pandas reads them as times)."""
    if not table_exists(con, relation):
        return pd.DataFrame()
    rows = frame(con, sql)
    for column in DATE_COLUMNS:
        if column in rows and pd.api.types.is_datetime64_any_dtype(rows[column]):
            rows[column] = rows[column].dt.date
    return rows


def _migration(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, tuple[str, str] | None]:
    """Customers from each segment of the previous publish to each of the latest one."""
    if not table_exists(con, "marts.segment_migration"):
        return pd.DataFrame(), None
    latest = con.execute(
        "select as_of, previous_as_of from marts.segment_migration "
        "where previous_as_of is not null order by as_of desc limit 1"
    ).fetchone()
    if latest is None:
        return pd.DataFrame(), None
    rows = frame(
        con,
        "select coalesce(from_segment_name, '(new customer)') as previous, "
        "coalesce(to_segment_name, '(left)') as current, sum(customers) as customers "
        "from marts.segment_migration where as_of = $d group by all order by 1, 2",
        {"d": latest[0]},
    )
    return rows, (str(latest[1]), str(latest[0]))


def load_monitor_data(
    con: duckdb.DuckDBPyConnection, *, watch_psi: float, act_psi: float
) -> MonitorData:
    """Read the KPI series, drift, model quality and campaign results."""
    migration, dates = _migration(con)
    return MonitorData(
        kpis=_read(
            con,
            "marts.segment_kpis",
            "select * from marts.segment_kpis order by as_of, segment_id",
        ),
        migration=migration,
        migration_dates=dates,
        drift=_read(
            con,
            "ops.drift",
            "select run_id, as_of, model_version, kind, feature, psi, watch_threshold, "
            "threshold, verdict from ops.drift order by as_of, recorded_at, feature",
        ),
        monitoring=_read(
            con, "ops.model_monitoring", "select * from ops.model_monitoring order by as_of"
        ),
        training=_read(
            con,
            "ops.backtests",
            "select r.model_version, r.as_of, r.status, b.explained_variance, "
            "b.retention_spread, b.horizon_days from ops.backtests b "
            "join ops.model_registry r using (model_version) where b.method = 'model' "
            "and b.segment_id is null and b.segment_name is null order by r.as_of",
        ),
        campaigns=_read(
            con,
            "marts.campaign_results",
            "select * from marts.campaign_results order by first_sent_at, campaign_id, "
            "segment_id nulls first",
        ),
        watch_psi=watch_psi,
        act_psi=act_psi,
    )
