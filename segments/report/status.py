"""`segments status`: what ran, what is served, how much data there is."""

from __future__ import annotations

from segments.core.db import connect
from segments.lifecycle import kept_back
from segments.monitor import monitor_status_lines
from segments.settings import Settings

TABLES = (
    "staging.stg_transactions",
    "staging.stg_customers",
    "staging.stg_events",
    "ops.quarantine",
    "features.customer_features",
    "marts.customer_segments",
)


def status_report(settings: Settings) -> str:
    """Plain text for a terminal; read-only, so it never blocks a run for long."""
    if not settings.warehouse_path.exists():
        return f"no warehouse at {settings.warehouse_path}: run `segments run` first"
    with connect(settings, read_only=True) as con:
        existing = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables()"
            ).fetchall()
        }
        lines = ["Last runs:"]
        for run_id, status, as_of, started, message in con.execute(
            "select run_id, status, as_of, started_at, coalesce(message, '') from ops.runs "
            "where stage = 'run' order by started_at desc limit 5"
        ).fetchall():
            lines.append(
                f"  {run_id}  {status:9} as_of={as_of}  started {started:%Y-%m-%d %H:%M}"
                + (f"  {message[:120]}" if message else "")
            )
            for stage, st, msg in con.execute(
                "select stage, status, coalesce(message, '') from ops.runs where run_id = $r "
                "and stage <> 'run' order by started_at",
                {"r": run_id},
            ).fetchall():
                lines.append(f"      {stage:18} {st}" + (f"  {msg[:100]}" if msg else ""))
        champion = con.execute(
            "select model_version, algorithm, k, trained_at from "
            "ops.model_registry where status = 'champion'"
        ).fetchone()
        lines.append(
            "Champion model: "
            + (
                f"{champion[0]} ({champion[1]}, k={champion[2]}, trained {champion[3]:%Y-%m-%d})"
                if champion
                else "none"
            )
        )
        lines += monitor_status_lines(con)  # drift, decay, campaigns (segments.monitor)
        lines += [f"  {held}" for held in [kept_back(con)] if held]
        lines.append("Rows:")
        for table in TABLES:
            count = (
                con.execute(f"select count(*) from {table}").fetchone()[0]
                if table in existing
                else "-"
            )
            lines.append(f"  {table:30} {count:>12,}" if count != "-" else f"  {table:30} -")
    return "\n".join(lines)
