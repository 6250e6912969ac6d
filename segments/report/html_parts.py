"""HTML fragments of the report: tables, notices, profile cards. Every value is escaped."""

from __future__ import annotations

import math
from html import escape

import pandas as pd

from segments.models import fmt_value, humanize


def notice(text: str) -> str:
    """A plain sentence in place of a section whose data this run does not have."""
    return f'<p class="notice">{escape(text)}</p>'


def para(text: str) -> str:
    """A paragraph of escaped text."""
    return f"<p>{escape(text)}</p>"


def _cell(value: object) -> str:
    """Readable cell text: thousands separators, 3 significant decimals, blanks for nulls."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return escape(str(value))


def table(frame: pd.DataFrame, *, highlight: str | None = None, percent: tuple = ()) -> str:
    """A sortable-looking plain table; rows where column `highlight` is true are bold."""
    head = "".join(f"<th>{escape(str(c).replace('_', ' '))}</th>" for c in frame.columns)
    rows = []
    for record in frame.to_dict("records"):
        cls = ' class="hl"' if highlight and record.get(highlight) else ""
        cells = "".join(
            f"<td>{v:.1%}</td>"
            if c in percent and isinstance(v, float) and not math.isnan(v)
            else f"<td>{_cell(v)}</td>"
            for c, v in record.items()
        )
        rows.append(f"<tr{cls}>{cells}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _key_lines(stats: pd.DataFrame, n: int = 4, currency: str | None = None) -> str:
    """The n features where the segment differs most from everyone, median vs median."""
    top = stats.reindex(stats["rank_score"].abs().sort_values(ascending=False).index).head(n)
    items = []
    for r in top.itertuples():
        arrow = "▲" if r.rank_score > 0.1 else ("▼" if r.rank_score < -0.1 else "≈")
        items.append(
            f"<li><b>{escape(humanize(r.feature))}</b> {arrow} "
            f"{escape(fmt_value(r.feature, r.median, currency))} "
            f'<span class="muted">(all: '
            f"{escape(fmt_value(r.feature, r.population_median, currency))})"
            "</span></li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def profile_cards(
    summary: pd.DataFrame,
    catalog: pd.DataFrame,
    key_features: pd.DataFrame,
    top_products: pd.DataFrame,
    colors: dict[str, str],
    currency: str | None = None,
) -> str:
    """One card per segment: name, description, size, revenue share, key features, action,
    top products."""
    info = catalog.set_index("segment_id") if len(catalog) else pd.DataFrame()
    cards = []
    for seg in summary.itertuples():
        name = str(seg.segment_name)
        description = (
            info.at[seg.segment_id, "description"] if seg.segment_id in info.index else ""
        )
        action = info.at[seg.segment_id, "action"] if seg.segment_id in info.index else ""
        rule = (
            info.at[seg.segment_id, "rule"]
            if seg.segment_id in info.index and "rule" in info
            else ""
        )
        value = "".join(
            f"<span>{label} <b>{escape(fmt_value(col, getattr(seg, 'mean_' + col), currency))}</b></span>"
            for col, label in (("clv", "mean lifetime value"), ("p_alive", "mean P(alive)"))
            if isinstance(getattr(seg, "mean_" + col, None), float)
            and not math.isnan(getattr(seg, "mean_" + col))
        )
        revenue = (
            "n/a (no revenue in this feature set)"
            if math.isnan(seg.revenue_share)
            else f"{seg.revenue_share:.1%}"
        )
        stats = (
            key_features[key_features["segment_id"] == seg.segment_id]
            if len(key_features)
            else key_features
        )
        products = (
            top_products[top_products["segment_id"] == seg.segment_id]
            if len(top_products)
            else top_products
        )
        product_html = (
            (
                "<ol>"
                + "".join(
                    f"<li>{escape(str(p.description or p.product_code))} "
                    f'<span class="muted">lift {p.lift:.2f}, {p.customers:,} buyers</span></li>'
                    for p in products.itertuples()
                )
                + "</ol>"
            )
            if len(products)
            else (
                '<p class="muted">No product data (no transactions, or none above the minimum '
                "support).</p>"
            )
        )
        cards.append(
            f'<div class="card" data-segment="{escape(name)}" '
            f'style="border-top-color:{colors.get(name, "#888")}">'
            f"<h3>{escape(name)}</h3><p>{escape(str(description))}</p>"
            f'<p class="kpis"><span><b>{seg.size:,}</b> customers ({seg.share:.1%})</span>'
            f"<span>revenue share <b>{escape(revenue)}</b></span>{value}</p>"
            + (f"<p><b>Rule:</b> <code>{escape(str(rule))}</code></p>" if rule else "")
            + f"<h4>Key features vs population (median)</h4>"
            f"{_key_lines(stats, currency=currency) if len(stats) else '<p class=muted>no numeric features</p>'}"
            f"<p><b>Suggested action:</b> {escape(str(action) or 'none recorded')}</p>"
            f"<h4>Top products by lift</h4>{product_html}</div>"
        )
    return '<div class="cards">' + "".join(cards) + "</div>"
