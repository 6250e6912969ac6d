"""Plotly figures of the data and EDA sections: loads, quarantine, histograms, scatters, heatmap.

Figures carry aggregated or sampled data only, so the page stays small for any warehouse size.
A figure whose traces are one per segment sets layout.meta.segment_filter for the page filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from segments.core.money import is_money  # money gets log scales: orders of magnitude
from segments.models import humanize

SAMPLE_POINTS = 5_000
PALETTE = qualitative.Plotly + qualitative.D3
FILTERABLE = {"segment_filter": True}


def segment_colors(names: list[str]) -> dict[str, str]:
    """One stable colour per segment name across every chart of the page."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def sample(frame: pd.DataFrame, n: int = SAMPLE_POINTS, seed: int = 42) -> pd.DataFrame:
    """A seeded sample: big scatters would make the page heavy without showing more."""
    return frame if len(frame) <= n else frame.sample(n, random_state=seed).sort_index()


# Every chart uses this plotly template. It is not set per figure: plotly validates and
# deep-copies a template each time one is assigned (30-60 ms a figure, most of the page's
# plotly time); `white_template()` makes it the default while a page is built and written.
TEMPLATE = "plotly_white"


def preload_charts() -> None:
    """Load plotly and TEMPLATE now (a JSON parse, about half a second): a command calls
    this while it waits for something else, so the report stage does not pay it."""
    import plotly.io as pio

    pio.templates[TEMPLATE]  # parsed once per process, then cached by plotly


def _set_default(templates: Any, name: str | None) -> None:
    """Make `name` (a registered template) the default.

    Plotly's setter validates the template by building a deep copy it then throws away
    (0.5 s each time, twice a page); a registered name needs no check, so it is stored as
    the setter would store it. If plotly's internals change, the setter is used.
    """
    if isinstance(name, str) and name in templates and hasattr(templates, "_default"):
        templates._default = name
    else:
        templates.default = name


@contextmanager
def white_template() -> Iterator[None]:
    """Plotly's default template is TEMPLATE inside the block (restored after)."""
    import plotly.io as pio

    before = pio.templates.default
    _set_default(pio.templates, TEMPLATE)
    try:
        yield
    finally:
        _set_default(pio.templates, before)


def base_layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    """Shared look: white template (see TEMPLATE), title, compact margins."""
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
    )
    return fig


def loads_chart(loads: pd.DataFrame) -> go.Figure:
    """Rows read, staged, quarantined and duplicated per loaded file (log axis: tiny rejects)."""
    label = loads["source"] + " · " + loads["path"]
    fig = go.Figure()
    for column in ("rows_read", "rows_staged", "rows_quarantined", "duplicates"):
        fig.add_bar(name=column.replace("_", " "), x=label, y=loads[column].fillna(0))
    fig.update_yaxes(type="log", title="rows (log)")
    return base_layout(fig, "Rows per source file loaded in this run")


def quarantine_chart(quarantine: pd.DataFrame) -> go.Figure:
    """Quarantined lines by reason, one colour per source."""
    fig = go.Figure()
    for source, group in quarantine.groupby("source"):
        fig.add_bar(
            name=str(source),
            x=group["reason_code"],
            y=group["rows"],
            hovertext=group["example"],
            hoverinfo="x+y+name+text",
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="rows")
    return base_layout(fig, "Quarantined lines by reason", 360)


def _money_ticks(values: np.ndarray) -> tuple[list[float], list[str]]:
    """Tick positions on a log10 axis labelled in pounds."""
    lo, hi = int(np.floor(values.min())), int(np.ceil(values.max()))
    ticks = list(range(lo, hi + 1))
    return [float(t) for t in ticks], [
        f"{10.0**t:,.0f}" if t >= 0 else f"{10.0**t:g}" for t in ticks
    ]


def histograms(features: pd.DataFrame, columns: list[str]) -> go.Figure:
    """Small multiples of each numeric feature; money on a log10 axis (non-positive left out)."""
    columns = [c for c in columns if c in features and features[c].notna().any()]
    ncols = 3
    nrows = max(1, -(-len(columns) // ncols))
    titles = [humanize(c) + (" (log)" if is_money(c) else "") for c in columns]
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=titles,
        vertical_spacing=0.5 / nrows,
        horizontal_spacing=0.06,
    )
    for i, column in enumerate(columns):
        values = features[column].dropna().to_numpy(dtype=float)
        row, col = divmod(i, ncols)
        if is_money(column):
            positive = values[values > 0]
            values = np.log10(positive) if len(positive) else np.zeros(0)
        counts, edges = np.histogram(values, bins=30) if len(values) else ([], [0.0])
        centers = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2 if len(counts) else []
        fig.add_bar(
            x=centers,
            y=counts,
            row=row + 1,
            col=col + 1,
            showlegend=False,
            marker_color=PALETTE[0],
            name=column,
            hovertemplate=f"{column}: %{{x:.3g}}<br>customers: %{{y}}<extra></extra>",
        )
        if is_money(column) and len(values):
            vals, text = _money_ticks(values)
            fig.update_xaxes(tickvals=vals, ticktext=text, row=row + 1, col=col + 1)
    fig.update_layout(bargap=0.05)
    return base_layout(
        fig,
        "Feature distributions (money on log10 axes; 0 and below not shown)",
        260 * nrows + 60,
    )


def segment_scatter(
    frame: pd.DataFrame,
    x: str,
    y: str,
    colors: dict[str, str],
    *,
    title: str,
    log_x: bool = False,
    log_y: bool = False,
    x_title: str | None = None,
    y_title: str | None = None,
    seed: int = 42,
) -> go.Figure:
    """One trace per segment (so the page filter and the legend can hide segments)."""
    data = frame.dropna(subset=[x, y])
    dropped = 0
    for column, log in ((x, log_x), (y, log_y)):
        if log:
            keep = data[column] > 0
            dropped += int((~keep).sum())
            data = data[keep]
    data = sample(data, seed=seed)
    fig = go.Figure()
    for name, color in colors.items():
        part = data[data["segment_name"] == name]
        fig.add_scatter(
            x=part[x],
            y=part[y],
            mode="markers",
            name=name,
            marker={"color": color, "size": 5, "opacity": 0.6},
            customdata=part[["customer_id"]].to_numpy(),
            hovertemplate=f"{name}<br>{x}: %{{x:,.4g}}<br>{y}: %{{y:,.4g}}"
            "<br>%{customdata[0]}<extra></extra>",
        )
    fig.update_xaxes(type="log" if log_x else "linear", title=x_title or humanize(x))
    fig.update_yaxes(type="log" if log_y else "linear", title=y_title or humanize(y))
    note = f" ({len(data):,} customers" + (
        f"; {dropped:,} at 0 or below not shown)" if dropped else ")"
    )
    fig.update_layout(meta=FILTERABLE)
    return base_layout(fig, title + note, 460)


def correlation_heatmap(features: pd.DataFrame, columns: list[str]) -> go.Figure:
    """Spearman correlations: rank based, so skewed money columns do not dominate."""
    columns = [c for c in columns if c in features and features[c].nunique() > 1]
    corr = features[columns].astype(float).corr(method="spearman").round(2)
    labels = [humanize(c) for c in columns]
    fig = go.Figure(
        go.Heatmap(
            z=corr.to_numpy(),
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            text=corr.to_numpy(),
            texttemplate="%{text}",
            hovertemplate="%{y} vs %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, "Spearman correlation of the features", 120 + 42 * len(columns))
