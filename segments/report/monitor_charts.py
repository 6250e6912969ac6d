"""Plotly figures of the monitoring page: KPIs over time, drift, model quality, campaigns."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from segments.models import humanize
from segments.report.charts import PALETTE, base_layout


def kpi_chart(kpis: pd.DataFrame, column: str, title: str, colors: dict[str, str]) -> go.Figure:
    """One line per segment of a KPI over the publishes."""
    fig = go.Figure()
    for name, group in kpis.groupby("segment_name", sort=False):
        fig.add_scatter(
            x=group["as_of"],
            y=group[column],
            mode="lines+markers",
            name=str(name),
            line={"color": colors.get(str(name))},
            hovertemplate=f"{name}<br>%{{x}}: %{{y:,.4g}}<extra></extra>",
        )
    fig.update_xaxes(title="publish (as_of)")
    fig.update_yaxes(title=humanize(column))
    return base_layout(fig, title, 380)


def drift_chart(drift: pd.DataFrame, watch: float, act: float) -> go.Figure:
    """PSI per feature over the runs, with the watch and act thresholds drawn."""
    fig = go.Figure()
    for i, (feature, group) in enumerate(drift.groupby("feature", sort=True)):
        fig.add_scatter(
            x=group["as_of"],
            y=group["psi"],
            mode="lines+markers",
            name=str(feature),
            line={
                "color": PALETTE[i % len(PALETTE)],
                "dash": "dot" if feature == "segment_shares" else "solid",
            },
            hovertemplate=f"{feature}<br>%{{x}}: PSI %{{y:.3f}}<extra></extra>",
        )
    for value, label, color in ((watch, "watch", "#f0b400"), (act, "act", "#d62728")):
        fig.add_hline(
            y=value,
            line={"color": color, "dash": "dash"},
            annotation_text=f"{label} {value:g}",
            annotation_position="top left",
        )
    fig.update_xaxes(title="run (as_of)")
    fig.update_yaxes(title="population stability index", rangemode="tozero")
    return base_layout(fig, "Drift per feature against the champion's training distribution", 460)


def quality_chart(monitoring: pd.DataFrame, training: pd.DataFrame) -> go.Figure:
    """Explained variance and retention spread: at training (backtest) and once matured."""
    fig = go.Figure()
    for metric, color in (("explained_variance", PALETTE[0]), ("retention_spread", PALETTE[1])):
        label = humanize(metric)
        if len(training):
            fig.add_scatter(
                x=training["as_of"],
                y=training[metric],
                mode="markers",
                marker={"symbol": "diamond-open", "size": 10, "color": color},
                name=f"{label}: training backtest",
                customdata=training[["model_version"]].to_numpy(),
                hovertemplate="%{customdata[0]}<br>trained %{x}: %{y:.3f}<extra></extra>",
            )
        if len(monitoring):
            fig.add_scatter(
                x=monitoring["as_of"],
                y=monitoring[metric],
                mode="lines+markers",
                line={"color": color},
                name=f"{label}: matured publish",
                customdata=monitoring[["publish_as_of", "model_version", "verdict"]].to_numpy(),
                hovertemplate="publish %{customdata[0]} (%{customdata[1]}), measured %{x}: "
                "%{y:.3f} · %{customdata[2]}<extra></extra>",
            )
    fig.update_xaxes(title="as_of")
    fig.update_yaxes(title="eta squared / retention spread", rangemode="tozero")
    return base_layout(fig, "Model quality over time: what segments said about the future", 420)


def campaign_chart(campaigns: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Conversion uplift (treatment - control) per campaign and segment, with its interval;
    campaigns without a control group show their plain conversion rate instead."""
    fig = go.Figure()
    controlled = campaigns[campaigns["conversion_uplift"].notna()]
    for name, group in controlled.groupby("segment_name", sort=False):
        fig.add_bar(
            x=group["campaign_id"],
            y=group["conversion_uplift"],
            name=str(name),
            marker_color=colors.get(str(name)),
            error_y={
                "type": "data",
                "symmetric": False,
                "array": group["conversion_uplift_high"] - group["conversion_uplift"],
                "arrayminus": group["conversion_uplift"] - group["conversion_uplift_low"],
            },
            hovertemplate=f"{name}<br>%{{x}}: uplift %{{y:+.1%}}<extra></extra>",
        )
    plain = campaigns[campaigns["conversion_uplift"].isna()]
    if len(plain):
        fig.add_scatter(
            x=plain["campaign_id"],
            y=plain["treatment_conversion_rate"],
            mode="markers",
            marker={"symbol": "x", "size": 9, "color": "#555"},
            name="conversion rate (no control group)",
            customdata=plain[["segment_name"]].to_numpy(),
            hovertemplate="%{customdata[0]}<br>%{x}: %{y:.1%}<extra></extra>",
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="conversion uplift (points)", tickformat="+.0%")
    level = float(campaigns["confidence"].iloc[0]) if len(campaigns) else 0.95
    title = f"Campaign conversion uplift by segment at send ({level:.0%} interval)"
    return base_layout(fig, title, 460)
