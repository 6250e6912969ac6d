"""`segments status`: what ran, what is served, which model, how much data there is.

Read-only and safe during a run: the served publish comes from serving.duckdb, and the
warehouse is opened (read-only, holding the lock shared) only when no run holds it. While a
run holds it, the rest comes from the snapshot the last run wrote when it ended
(SEGMENTS_HOME/.status.json) and from the lock file (who runs now, in which stage); opening
warehouse.duckdb then would make the run's next connection fail.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from segments.core import journal
from segments.core.db import connect
from segments.core.locks import read_lock
from segments.core.served import served_publish
from segments.lifecycle import kept_back
from segments.monitor import monitor_status_lines
from segments.settings import Settings

SNAPSHOT = ".status.json"
LAST_RUNS = 5
TABLES = (
    "staging.stg_transactions",
    "staging.stg_customers",
    "staging.stg_events",
    "ops.quarantine",
    "features.customer_features",
    "marts.customer_segments",
)


def gather_status(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Everything the status page shows that lives in the warehouse, as plain JSON values."""
    existing = {
        f"{s}.{t}"
        for s, t in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
    }
    runs = []
    if "ops.runs" in existing:
        for run_id, flow, status, as_of, started, message in con.execute(
            "select run_id, flow_name, status, as_of, started_at, message from ops.runs "
            "where stage = 'run' order by started_at desc limit $n",
            {"n": LAST_RUNS},
        ).fetchall():
            stages = con.execute(
                "select stage, status, message, details->>'path' from ops.runs "
                "where run_id = $r and stage <> 'run' order by started_at",
                {"r": run_id},
            ).fetchall()
            runs.append(
                {
                    "run_id": run_id,
                    "flow": flow,
                    "status": status,
                    "as_of": as_of,
                    "started": started,
                    "message": message,
                    "stages": [list(s[:3]) for s in stages],
                    "report": next((s[3] for s in stages if s[0] == "report" and s[3]), None),
                }
            )
    champion = None
    if "ops.model_registry" in existing:
        row = con.execute(
            "select model_version, algorithm, k, as_of, trained_at from ops.model_registry "
            "where status = 'champion'"
        ).fetchone()
        if row:
            champion = dict(
                zip(["version", "algorithm", "k", "as_of", "trained_at"], row, strict=True)
            )
    rows = {
        table: con.execute(f"select count(*) from {table}").fetchone()[0]
        if table in existing
        else None
        for table in TABLES
    }
    monitor = monitor_status_lines(con)  # drift, decay, campaigns (segments.monitor)
    held = kept_back(con) if "ops.model_registry" in existing else None
    return json.loads(
        json.dumps(
            {
                "runs": runs,
                "champion": champion,
                "monitor": monitor,
                "kept_back": held,
                "rows": rows,
            },
            default=str,
        )
    )


def snapshot_path(settings: Settings) -> Path:
    return settings.home / SNAPSHOT


def write_status_snapshot(settings: Settings) -> None:
    """At the end of a run (lock still held): what `status` shows while the next run works."""
    with connect(settings, read_only=False) as con:
        data = gather_status(con)
    data["written_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    path = snapshot_path(settings)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _read_snapshot(settings: Settings) -> dict[str, Any] | None:
    try:
        return json.loads(snapshot_path(settings).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _indented(text: str, prefix: str) -> str:
    """A full message, continuation lines under its first."""
    return ("\n" + prefix).join(text.splitlines() or [""])


def _age_days(later: str | date | None, earlier: str | None) -> int | None:
    if not later or not earlier:
        return None
    return (date.fromisoformat(str(later)[:10]) - date.fromisoformat(str(earlier)[:10])).days


def render_status(
    settings: Settings,
    data: dict[str, Any] | None,
    *,
    writer: str | None,
    snapshot_note: str | None = None,
) -> str:
    """Plain text for a terminal."""
    lines = []
    if writer:
        lines.append(f"Running now: {writer}")
    served = served_publish(settings)
    if served:
        lines.append(
            f"Served: as_of {served.as_of} (run {served.run_id}, model {served.model_version}, "
            f"{served.customers:,} customers, published {served.published_at:%Y-%m-%d %H:%M} "
            f"UTC) in {settings.serving_path}"
        )
    else:
        lines.append(f"Served: nothing published yet ({settings.serving_path} does not exist)")
    latest = settings.reports_dir / "latest" / "index.html"
    lines.append(f"Report: {latest}" if latest.exists() else "Report: none yet")
    if snapshot_note:
        lines.append(snapshot_note)
    if data is None:
        return "\n".join(lines)
    champion = data.get("champion")
    if champion:
        reference = (
            served.as_of
            if served
            else next((r["as_of"] for r in data["runs"] if r.get("as_of")), None)
        )
        age = _age_days(reference, champion.get("as_of"))
        lines.append(
            f"Champion model: {champion['version']} ({champion['algorithm']}, k={champion['k']}, "
            f"trained as of {champion.get('as_of')}"
            + (f", {age} days before the served as_of" if age is not None else "")
            + f"; fitted {str(champion['trained_at'])[:16]})"
        )
    else:
        lines.append("Champion model: none")
    pending = [row for _, row in journal.pending(settings.home)]
    if pending:
        lines.append("Recorded while the warehouse was busy (goes into ops.runs next run):")
        for row in pending:
            lines.append(
                f"  {row['run_id']}  {row['stage']} {row['status']}  {str(row['now'])[:16]}  "
                + _indented(row.get("message") or "", "      ")
            )
    lines.append("Last runs:")
    for run in data["runs"]:
        dead = run["status"] == "running" and writer is None  # nobody holds the warehouse
        lines.append(
            f"  {run['run_id']}  {run['status']:9} {run['flow']}  as_of={run['as_of']}  "
            f"started {str(run['started'])[:16]}"
            + ("  (its process is gone: crashed; the next run records it)" if dead else "")
        )
        stage_messages = {message for _, _, message in run["stages"] if message}
        if run.get("message") and run["message"] not in stage_messages:
            lines.append("      " + _indented(run["message"], "      "))
        for stage, status, message in run["stages"]:
            lines.append(f"      {stage:18} {status}")
            if message:
                lines.append("          " + _indented(message, "          "))
        if run.get("report"):
            lines.append(f"      report: {run['report']}")
    lines += data.get("monitor") or []
    if data.get("kept_back"):  # a newer model that did not replace the champion, and why
        lines.append(f"  {data['kept_back']}")
    lines.append("Rows:")
    for table, count in data["rows"].items():
        lines.append(f"  {table:30} {count:>12,}" if count is not None else f"  {table:30} -")
    return "\n".join(lines)


def status_report(settings: Settings) -> str:
    """The status page; never opens the warehouse while a run holds it."""
    with read_lock(settings.home) as writer:
        if writer is None:
            if not settings.warehouse_path.exists():
                return render_status(settings, None, writer=None) + (
                    f"\nNo warehouse at {settings.warehouse_path}: run `segments run` first"
                )
            with connect(settings, read_only=True) as con:
                return render_status(settings, gather_status(con), writer=None)
    snapshot = _read_snapshot(settings)
    note = (
        f"(the rest as of the end of the previous run, {snapshot['written_at']}; the warehouse "
        "is not opened while a run holds it)"
        if snapshot
        else "(no snapshot of the previous run yet; the warehouse is not opened during a run)"
    )
    return render_status(settings, snapshot, writer=writer.describe(), snapshot_note=note)
