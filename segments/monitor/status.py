"""Lines `segments status` shows for monitoring: the latest drift and decay verdicts and the
campaign results last loaded (read-only, tables may not exist yet)."""

from __future__ import annotations

import duckdb


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = $s and table_name = $t",
            {"s": schema, "t": table},
        ).fetchone()[0]
    )


def _drift_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    latest = con.execute(
        "select run_id, as_of, model_version from ops.drift order by recorded_at desc limit 1"
    ).fetchone()
    if latest is None:
        return ["Drift: not measured yet (needs a champion trained with monitoring)"]
    run_id, as_of, version = latest
    rows = con.execute(
        "select feature, psi, verdict, threshold from ops.drift where run_id = $r "
        "order by psi desc",
        {"r": run_id},
    ).fetchall()
    worst = {v: [r for r in rows if r[2] == v] for v in ("act", "watch", "stable")}
    verdict = next((v for v in ("act", "watch") if worst[v]), "stable")
    lines = [f"Drift: {verdict} (run {run_id}, as_of {as_of}, against {version})"]
    for level in ("act", "watch"):
        if worst[level]:
            named = ", ".join(f"{f} {p:.2f}" for f, p, _, _ in worst[level][:6])
            lines.append(f"  {level:6} {named}")
    lines.append(f"  stable {len(worst['stable'])} of {len(rows)} (act from PSI {rows[0][3]:g})")
    return lines


def _decay_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    row = con.execute(
        "select run_id, publish_as_of, model_version, verdict, explained_variance, "
        "train_explained_variance, retention_spread, train_retention_spread, max_drop "
        "from ops.model_monitoring order by recorded_at desc limit 1"
    ).fetchone()
    if row is None:
        return ["Model decay: no matured publish re-scored yet"]
    run_id, published, version, verdict, ev, tev, rs, trs, drop = row

    def pair(now: float | None, then: float | None) -> str:
        return f"{now:.3f}" + (f" (trained {then:.3f})" if then is not None else "")

    return [
        f"Model decay: {verdict} (publish of {published} by {version}, run {run_id})",
        f"  explained variance {pair(ev, tev)}, retention spread {pair(rs, trs)}"
        + (f", drop {drop:.0%}" if drop is not None else ""),
    ]


def _campaign_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    load = con.execute(
        "select source, path, rows_staged, coalesce(ended_at, started_at) from ops.loads "
        "where entity = 'campaigns' and status = 'loaded' order by started_at desc limit 1"
    ).fetchone()
    if load is None:
        return ["Campaigns: none loaded"]
    lines = [f"Campaigns: last loaded {load[1]} ({load[0]}, {load[2]:,} rows, {load[3]:%Y-%m-%d})"]
    if not _exists(con, "marts", "campaign_results"):
        return lines
    rows = con.execute(
        "select campaign_id, segment_name, treatment_customers, control_customers, "
        "treatment_conversion_rate, conversion_uplift, conversion_uplift_low, "
        "conversion_uplift_high from marts.campaign_results "
        "where campaign_id = (select campaign_id from marts.campaign_results "
        "order by first_sent_at desc, campaign_id desc limit 1) order by segment_id nulls first"
    ).fetchall()
    if rows:
        lines.append(f"  latest campaign {rows[0][0]} by segment at send:")
    for _, name, treated, control, rate, uplift, low, high in rows:
        effect = (
            f"uplift {uplift:+.1%} [{low:+.1%}, {high:+.1%}]"
            if uplift is not None
            else "no control group"
        )
        lines.append(
            f"    {name[:28]:28} {treated:>6,} sent / {control:>5,} control  "
            f"conversion {rate:.1%}  {effect}"
        )
    return lines


def monitor_status_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Drift, decay and campaign lines for `segments status`."""
    lines: list[str] = []
    if _exists(con, "ops", "drift"):
        lines += _drift_lines(con)
    if _exists(con, "ops", "model_monitoring"):
        lines += _decay_lines(con)
    if _exists(con, "ops", "loads"):
        lines += _campaign_lines(con)
    return lines
