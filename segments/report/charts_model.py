"""Plotly figures of model selection and segments: elbow, metrics, stability, RFM, migration."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from segments.report.charts import FILTERABLE, PALETTE, base_layout, sample

METRICS = (
    ("silhouette", "Silhouette (higher is better)"),
    ("davies_bouldin", "Davies-Bouldin (lower is better)"),
    ("calinski_harabasz", "Calinski-Harabasz (higher is better)"),
)


def candidate_label(candidates: pd.DataFrame) -> pd.Series:
    """'kmeans[rank value] k=4' style labels for candidates."""
    if "candidate" in candidates:
        return candidates["candidate"].astype(str)
    return candidates["algorithm"] + " k=" + candidates["k"].astype("Int64").astype(str)


def _family(candidates: pd.DataFrame) -> str:
    """Curves are drawn per recipe (family x space) when recorded, else per algorithm."""
    return "recipe" if "recipe" in candidates else "algorithm"


def objective_chart(candidates: pd.DataFrame) -> go.Figure:
    """The out-of-time backtest objective by k, one line per recipe, the chosen circled."""
    data = candidates.dropna(subset=["objective", "k"]).sort_values("k")
    fig = go.Figure()
    for i, (recipe, group) in enumerate(data.groupby(_family(data))):
        fig.add_scatter(
            x=group["k"],
            y=group["objective"],
            mode="lines+markers",
            name=str(recipe),
            line={"color": PALETTE[i % len(PALETTE)]},
        )
    chosen = data[data["chosen"].fillna(False).astype(bool)]
    fig.add_scatter(
        x=chosen["k"],
        y=chosen["objective"],
        mode="markers",
        name="chosen",
        marker={"symbol": "circle-open", "size": 20, "line": {"width": 3}, "color": "#2ca02c"},
    )
    fig.update_xaxes(title="k (segments)", dtick=1)
    fig.update_yaxes(title="backtest objective (higher separates the future better)")
    return base_layout(fig, "Out-of-time backtest per candidate", 400)


def elbow_chart(candidates: pd.DataFrame) -> go.Figure:
    """Within-cluster sum of squares by k, with the detected knee and the chosen model marked."""
    data = candidates.dropna(subset=["wcss", "k"]).sort_values("k")
    fig = go.Figure()
    for i, (algorithm, group) in enumerate(data.groupby(_family(data))):
        fig.add_scatter(
            x=group["k"],
            y=group["wcss"],
            mode="lines+markers",
            name=algorithm,
            line={"color": PALETTE[i % len(PALETTE)]},
        )
    knee = data[data["is_knee"].fillna(False).astype(bool)]
    fig.add_scatter(
        x=knee["k"],
        y=knee["wcss"],
        mode="markers",
        name="knee",
        marker={"symbol": "star", "size": 16, "color": "#d62728"},
    )
    chosen = data[data["chosen"].fillna(False).astype(bool)]
    fig.add_scatter(
        x=chosen["k"],
        y=chosen["wcss"],
        mode="markers",
        name="chosen",
        marker={"symbol": "circle-open", "size": 20, "line": {"width": 3}, "color": "#2ca02c"},
    )
    fig.update_xaxes(title="k (segments)", dtick=1)
    fig.update_yaxes(title="within-cluster sum of squares")
    return base_layout(fig, "Elbow curve", 380)


def metrics_chart(candidates: pd.DataFrame) -> go.Figure:
    """The three internal validity indices per candidate, chosen model circled."""
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=[t for _, t in METRICS], horizontal_spacing=0.08
    )
    data = candidates.dropna(subset=["k"]).sort_values("k")
    for col, (metric, _) in enumerate(METRICS, start=1):
        for i, (algorithm, group) in enumerate(data.groupby(_family(data))):
            fig.add_scatter(
                x=group["k"],
                y=group[metric],
                mode="lines+markers",
                name=algorithm,
                legendgroup=algorithm,
                showlegend=col == 1,
                line={"color": PALETTE[i % len(PALETTE)]},
                row=1,
                col=col,
            )
        chosen = data[data["chosen"].fillna(False).astype(bool)]
        fig.add_scatter(
            x=chosen["k"],
            y=chosen[metric],
            mode="markers",
            name="chosen",
            legendgroup="chosen",
            showlegend=col == 1,
            marker={"symbol": "circle-open", "size": 18, "line": {"width": 3}, "color": "#2ca02c"},
            row=1,
            col=col,
        )
        fig.update_xaxes(title="k", dtick=1, row=1, col=col)
    return base_layout(fig, "Internal validity per candidate", 380)


def stability_chart(candidates: pd.DataFrame) -> go.Figure:
    """Bootstrap stability per candidate; failing the gates shows grey."""
    data = candidates.dropna(subset=["stability"])
    colors = [
        "#2ca02c" if c else ("#1f77b4" if p else "#bbbbbb")
        for c, p in zip(
            data["chosen"].fillna(False), data["passed_gates"].fillna(False), strict=True
        )
    ]
    fig = go.Figure(
        go.Bar(
            x=candidate_label(data),
            y=data["stability"],
            marker_color=colors,
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(title="stability (mean ARI over resamples)", range=[0, 1.05])
    return base_layout(fig, "Stability per candidate (green: chosen, grey: failed the gates)", 340)


def share_chart(summary: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Share of customers vs share of revenue per segment."""
    fig = go.Figure()
    fig.add_bar(
        name="customers",
        x=summary["segment_name"],
        y=summary["share"],
        marker_color=[colors.get(n) for n in summary["segment_name"]],
    )
    title = "Share of customers per segment"
    if summary["revenue_share"].notna().any():
        title = "Share of customers (solid) and of revenue (hatched) per segment"
        fig.add_bar(
            name="revenue",
            x=summary["segment_name"],
            y=summary["revenue_share"],
            marker_color=[colors.get(n) for n in summary["segment_name"]],
            marker_pattern_shape="/",
        )
    fig.update_yaxes(tickformat=".0%", title="share")
    return base_layout(fig, title, 360)


def embedding_chart(
    points: pd.DataFrame, names: dict[int, str], colors: dict[str, str], title: str
) -> go.Figure:
    """2-D embedding, one trace per segment for filtering and legend toggling."""
    points = sample(points)
    fig = go.Figure()
    for seg_id, name in names.items():
        part = points[points["segment_id"] == seg_id]
        fig.add_scatter(
            x=part["x"],
            y=part["y"],
            mode="markers",
            name=name,
            marker={"color": colors.get(name), "size": 5, "opacity": 0.6},
            text=part["customer_id"],
            hovertemplate=f"{name}<br>%{{text}}<extra></extra>",
        )
    fig.update_layout(meta=FILTERABLE)
    return base_layout(fig, f"{title} ({len(points):,} customers)", 480)


def rfm_heatmap(grid: pd.DataFrame) -> go.Figure:
    """Customers per recency score x frequency-monetary score, labelled with the RFM segment."""
    z = grid.pivot(index="r_score", columns="fm_score", values="customers").fillna(0)
    text = grid.pivot(index="r_score", columns="fm_score", values="rfm_segment").fillna("")
    label = text + "<br>" + z.astype(int).astype(str)
    fig = go.Figure(
        go.Heatmap(
            z=z.to_numpy(),
            x=[str(c) for c in z.columns],
            y=[str(i) for i in z.index],
            text=label.to_numpy(),
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="R %{y}, FM %{x}: %{z} customers<extra></extra>",
        )
    )
    fig.update_xaxes(title="frequency-monetary score (5 = best)")
    fig.update_yaxes(title="recency score (5 = most recent)")
    return base_layout(fig, "RFM grid: customers per cell", 480)


def crosstab_heatmap(table: pd.DataFrame, title: str, x_title: str, y_title: str) -> go.Figure:
    """Counts of a two-way table, the cells labelled with the count."""
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=list(map(str, table.columns)),
            y=list(map(str, table.index)),
            colorscale="Purples",
            texttemplate="%{z}",
            hovertemplate=f"{y_title} %{{y}} → {x_title} %{{x}}: %{{z}}<extra></extra>",
        )
    )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, autorange="reversed")
    return base_layout(fig, title, 160 + 40 * len(table.index))


def migration_chart(migration: pd.DataFrame) -> go.Figure:
    """Previous publish (rows) to this run (columns) as a matrix of customers."""
    table = migration.pivot(index="previous", columns="current", values="customers").fillna(0)
    return crosstab_heatmap(
        table.astype(int), "Migration since the previous publish", "this run", "previous publish"
    )
