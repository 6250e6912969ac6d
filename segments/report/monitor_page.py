"""The monitoring page, reports/monitor.html: one self-contained offline page across runs.

Built like the run report (plotly.js embedded once, same styles, atomic write) and rebuilt
by every run: segment sizes and revenue over time, migration between the last two
publishes, drift per feature with its thresholds, model quality over time and campaign
results by segment. A part without data yet says so instead of drawing an empty chart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

import duckdb
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from segments.report import charts_model as cm
from segments.report import monitor_charts as mc
from segments.report.charts import segment_colors
from segments.report.html_parts import notice, table
from segments.report.monitor_data import MonitorData, load_monitor_data
from segments.report.render import CSS, _figure_html, write_atomic
from segments.report.sections import Section
from segments.settings import Settings

MONITOR_PAGE = "monitor.html"
KPI_COLUMNS = [
    "segment_name",
    "customers",
    "customer_share",
    "revenue",
    "revenue_share",
    "avg_order_value",
    "purchases_per_customer",
    "mean_clv",
    "mean_p_alive",
    "joined_customers",
    "left_customers",
    "retention",
]
CAMPAIGN_COLUMNS = [
    "campaign_id",
    "channel",
    "segment_name",
    "treatment_customers",
    "control_customers",
    "treatment_open_rate",
    "treatment_conversion_rate",
    "control_conversion_rate",
    "conversion_uplift",
    "conversion_uplift_low",
    "conversion_uplift_high",
    "treatment_revenue_per_customer",
    "revenue_uplift",
]


def monitor_page_path(settings: Settings) -> Path:
    """reports/monitor.html under the settings' home."""
    return settings.reports_dir / MONITOR_PAGE


def _segments_section(d: MonitorData, colors: dict[str, str]) -> Section:
    s = Section("kpis", "Segment KPIs over time")
    if d.kpis.empty:
        s.blocks.append(
            notice("Nothing published yet: segment KPIs start with the first publish.")
        )
        return s
    window = int(d.kpis["window_days"].iloc[-1])
    s.blocks += [
        mc.kpi_chart(d.kpis, "customers", "Segment sizes per publish", colors),
        mc.kpi_chart(
            d.kpis, "revenue", f"Revenue of the {window} days before each publish", colors
        ),
    ]
    if d.kpis["retention"].notna().any():
        matured = d.kpis[d.kpis["retention"].notna()]
        s.blocks.append(mc.kpi_chart(matured, "retention", "Retention once matured", colors))
    latest = d.kpis[d.kpis["as_of"] == d.kpis["as_of"].max()]
    s.blocks += [
        f"<h3>Latest publish ({escape(str(latest['as_of'].iloc[0]))})</h3>",
        table(
            latest[KPI_COLUMNS],
            percent=("customer_share", "revenue_share", "retention", "mean_p_alive"),
        ),
    ]
    return s


def _migration_section(d: MonitorData) -> Section:
    s = Section("migration", "Migration between the last publishes")
    if d.migration.empty or d.migration_dates is None:
        s.blocks.append(notice("Needs two publishes: the first has nothing to move from."))
        return s
    s.blocks += [
        f"<p>From the publish of {escape(d.migration_dates[0])} to {escape(d.migration_dates[1])}.</p>",
        cm.migration_chart(d.migration),
    ]
    return s


def _drift_section(d: MonitorData) -> Section:
    s = Section("drift", "Drift")
    if d.drift.empty:
        s.blocks.append(
            notice("No drift measured yet: it starts with the first run after a model is trained.")
        )
        return s
    watch, act = float(d.drift["watch_threshold"].iloc[-1]), float(d.drift["threshold"].iloc[-1])
    last = d.drift[d.drift["run_id"] == d.drift["run_id"].iloc[-1]]
    s.blocks += [
        mc.drift_chart(d.drift, watch, act),
        (
            f"<h3>Latest run ({escape(str(last['as_of'].iloc[0]))}, against "
            f"<code>{escape(str(last['model_version'].iloc[0]))}</code>)</h3>"
        ),
        table(last.sort_values("psi", ascending=False)[["feature", "kind", "psi", "verdict"]]),
    ]
    return s


def _quality_section(d: MonitorData) -> Section:
    s = Section("quality", "Model quality")
    if d.monitoring.empty and d.training.empty:
        s.blocks.append(notice("No backtest or matured publish yet."))
        return s
    s.blocks.append(mc.quality_chart(d.monitoring, d.training))
    if d.monitoring.empty:
        s.blocks.append(
            notice("No publish has matured yet: only the training backtests are shown.")
        )
    else:
        cols = [
            "as_of",
            "publish_as_of",
            "model_version",
            "explained_variance",
            "train_explained_variance",
            "retention_spread",
            "train_retention_spread",
            "max_drop",
            "verdict",
        ]
        s.blocks.append(table(d.monitoring[cols].tail(10), percent=("max_drop",)))
    return s


def _campaign_section(d: MonitorData, colors: dict[str, str]) -> Section:
    s = Section("campaigns", "Campaign results")
    if d.campaigns.empty:
        s.blocks.append(
            notice("No campaigns loaded (a `campaigns` source; see docs/ingestion.md).")
        )
        return s
    rates = (
        "treatment_open_rate",
        "treatment_conversion_rate",
        "control_conversion_rate",
        "conversion_uplift",
        "conversion_uplift_low",
        "conversion_uplift_high",
    )
    s.blocks += [
        mc.campaign_chart(d.campaigns, colors),
        table(d.campaigns[CAMPAIGN_COLUMNS], percent=rates),
    ]
    return s


def render_monitor(d: MonitorData) -> tuple[str, int]:
    """The whole page and its number of charts (the browser test checks each one drew)."""
    names = list(
        dict.fromkeys([*d.kpis.get("segment_name", []), *d.campaigns.get("segment_name", [])])
    )
    colors = segment_colors([str(n) for n in names])
    sections = [
        _segments_section(d, colors),
        _migration_section(d),
        _drift_section(d),
        _quality_section(d),
        _campaign_section(d, colors),
    ]
    parts, charts = [], 0
    for section in sections:
        blocks = []
        for block in section.blocks:
            if isinstance(block, go.Figure):
                blocks.append(f'<div class="chart">{_figure_html(block, f"chart-{charts}")}</div>')
                charts += 1
            else:
                blocks.append(block)
        parts.append(
            f'<section id="{section.id}"><h2>{escape(section.title)}</h2>{"".join(blocks)}</section>'
        )
    nav = "".join(f'<a href="#{s.id}">{escape(s.title)}</a>' for s in sections)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Segmentation monitoring</title><style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body data-charts="{charts}">
<header><h1>Segmentation monitoring</h1><nav>{nav}<a href="latest/index.html">Latest run
report</a></nav></header>
<main><p class="muted">Across every run in this warehouse · generated {generated}</p>
{"".join(parts)}
</main></body></html>
"""
    return page, charts


def build_monitor_page(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Rebuild reports/monitor.html from the warehouse; returns its path."""
    data = load_monitor_data(
        con, watch_psi=settings.drift_watch_psi, act_psi=settings.drift_act_psi
    )
    page, _ = render_monitor(data)
    return write_atomic(monitor_page_path(settings), page)
