"""The run summary: the markdown people read in the Prefect UI after each run."""

from __future__ import annotations

import duckdb

from segments.lifecycle import kept_back


def _table(headers: list[str], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """Markdown: stages, loads, quarantine, model and segment sizes of one run."""
    stages = con.execute(
        "select stage, status, round(datediff('millisecond', started_at, ended_at) / 1000, 1), "
        "coalesce(message, '') from ops.runs where run_id = $r and stage <> 'run' "
        "order by started_at",
        {"r": run_id},
    ).fetchall()
    loads = con.execute(
        "select source, path, status, rows_read, rows_staged, rows_quarantined, duplicates, "
        "rows_without_customer from ops.loads where run_id = $r order by started_at",
        {"r": run_id},
    ).fetchall()
    quarantine = con.execute(
        "select q.source, q.reason_code, count(*) from ops.quarantine q join ops.loads l "
        "using (load_id) where l.run_id = $r group by all order by 1, 3 desc",
        {"r": run_id},
    ).fetchall()
    model = con.execute(
        "select model_version, algorithm, k, status, reason from ops.model_registry "
        "where status = 'champion'"
    ).fetchall()
    segments = con.execute(
        "select segment_id, segment_name, count(*), round(100.0 * count(*) / sum(count(*)) "
        "over (), 1) from ops.scores where run_id = $r group by all order by 1",
        {"r": run_id},
    ).fetchall()
    parts = [
        f"# Nightly segmentation run `{run_id}`",
        "## Stages",
        _table(["stage", "status", "seconds", "message"], stages),
    ]
    parts += [
        "## Loads",
        _table(
            [
                "source",
                "file",
                "status",
                "read",
                "staged",
                "quarantined",
                "duplicates",
                "no customer",
            ],
            loads,
        )
        if loads
        else "No new landing files.",
    ]
    if quarantine:
        parts += [
            "## Quarantine (ops.quarantine)",
            _table(["source", "reason", "rows"], quarantine),
        ]
    parts += [
        "## Champion model",
        _table(["version", "algorithm", "k", "status", "reason"], model),
    ]
    held = kept_back(con)
    if held:
        parts.append(f"**A challenger was kept back:** {held}")
    parts += ["## Segments", _table(["id", "name", "customers", "share %"], segments)]
    return "\n\n".join(parts)
