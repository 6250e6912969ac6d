"""The report's sections in reading order; each says plainly when its data is not there."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import plotly.graph_objects as go

from segments.models import humanize
from segments.report import charts as ch
from segments.report import charts_model as cm
from segments.report.chart_cache import CachedFigure
from segments.report.data import ReportData
from segments.report.html_parts import notice, para, profile_cards, table

# Pairs worth a scatter, per feature set family; the first present pair list wins.
RETAIL_PAIRS = [
    ("recency_days", "monetary", False, True),
    ("frequency", "monetary", True, True),
]
DEMOGRAPHIC_PAIRS = [
    ("annual_income", "spending_score", False, False),
    ("age_years", "spending_score", False, False),
]

Block = str | go.Figure | CachedFigure


@dataclass
class Section:
    """One titled part of the page: HTML fragments and figures in order."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


def data_section(d: ReportData) -> Section:
    """Row counts per source and load, quarantine by reason, quality results."""
    s = Section("data", "Data")
    s.blocks.append("<h3>Loads of this run</h3>")
    if len(d.loads):
        s.blocks += [table(d.loads), ch.loads_chart(d.loads)]
    else:
        s.blocks.append(notice("This run loaded no new landing files."))
    if len(d.staged_rows):
        s.blocks += ["<h3>Rows in staging per source (all loads)</h3>", table(d.staged_rows)]
    s.blocks.append("<h3>Quarantine</h3>")
    if len(d.quarantine):
        s.blocks += [table(d.quarantine), ch.quarantine_chart(d.quarantine)]
    else:
        s.blocks.append(notice("No lines were quarantined in this run's loads."))
    s.blocks.append("<h3>Data-quality results</h3>")
    if not d.quality_available:
        s.blocks.append(
            notice(
                "Quality results are not recorded in this warehouse yet "
                "(ops.dq_results is missing)."
            )
        )
    elif d.quality_summary.empty:
        s.blocks.append(notice("No quality results were recorded for this run."))
    else:
        s.blocks.append(table(d.quality_summary))
        if len(d.quality_failed):
            s.blocks += ["<h4>Failed expectations</h4>", table(d.quality_failed)]
        else:
            s.blocks.append(para("Every expectation passed."))
    if d.events == 0:
        s.blocks.append(notice("No web events are loaded, so no web-activity features."))
    return s


def eda_section(d: ReportData, colors: dict[str, str]) -> Section:
    """Descriptive statistics, histograms, key scatter pairs, correlation heatmap."""
    s = Section("eda", "Exploratory analysis")
    numeric = [c for c in d.feature_set.numeric if c in d.features]
    if d.features.empty or not numeric:
        s.blocks.append(notice("No feature rows for this run's as_of; nothing to describe."))
        return s
    stats = d.features[numeric].describe().T.reset_index(names="feature")
    stats.insert(1, "missing", [int(d.features[c].isna().sum()) for c in numeric])
    heading = (
        f"<h3>Descriptive statistics ({len(d.features):,} customers, feature set "
        f"<code>{escape(d.run.feature_set)}</code>)</h3>"
    )
    s.blocks += [heading, table(stats), ch.histograms(d.features, numeric)]
    pairs = [p for p in RETAIL_PAIRS + DEMOGRAPHIC_PAIRS if {p[0], p[1]} <= set(d.features)]
    for x, y, log_x, log_y in pairs:
        s.blocks.append(
            ch.segment_scatter(
                d.features,
                x,
                y,
                colors,
                log_x=log_x,
                log_y=log_y,
                title=f"{humanize(x).capitalize()} vs {humanize(y)}",
            )
        )
    if len(numeric) > 1:
        s.blocks.append(ch.correlation_heatmap(d.features, numeric))
    return s


def model_section(d: ReportData) -> Section:
    """How good the segments are, why the model won, the backtest per candidate, internal
    indices (diagnostics), stability and the candidate table."""
    s = Section("model", "Model selection")
    r = d.run
    trained = (
        f"trained in run {r.trained_in_run}"
        if r.trained_in_run and r.trained_in_run != r.run_id
        else "trained in this run"
    )
    s.blocks.append(
        f"<p>Model <code>{escape(r.model_version)}</code> ({escape(r.algorithm)}, "
        f"k={r.k}, {escape(trained)}).</p>"
    )
    s.blocks += [
        "<h3>Why this model</h3>",
        "".join(para(p.strip()) for p in r.reason.split("|") if p.strip())
        or notice("No reason recorded."),
    ]
    s.blocks.append("<h3>How good are these segments</h3>")
    if d.quality.empty:
        s.blocks.append(
            notice(
                "No out-of-time backtest for this model (no purchase history, or too short a "
                "history for a matured horizon), so no comparison with its peers."
            )
        )
    else:
        q = d.quality.iloc[0]
        s.blocks += [
            para(
                f"What the customers at {q['cutoff']:%Y-%m-%d} did over the next "
                f"{int(q['horizon_days'])} days, by their segment in each segmentation "
                "(eta2: the share of the variance of log future revenue the segments "
                "explain; retention spread: best minus worst segment's share who bought "
                "again). Every segmentation was fitted without seeing that window."
            ),
            table(d.quality.drop(columns=["cutoff", "horizon_days"])),
        ]
    if d.candidates.empty:
        s.blocks.append(notice("No candidates are recorded for this model version."))
        return s
    c = d.candidates  # fixed when the model was trained: drawn once (chart_cache)
    if c["objective"].notna().any():
        s.blocks.append(CachedFigure("objective", (c,), lambda: cm.objective_chart(c)))
    if c["wcss"].notna().any():
        s.blocks.append(CachedFigure("elbow", (c,), lambda: cm.elbow_chart(c)))
    else:
        s.blocks.append(
            notice("No candidate reports a within-cluster sum of squares, so no elbow curve.")
        )
    s.blocks.append(CachedFigure("metrics", (c,), lambda: cm.metrics_chart(c)))
    if c["stability"].notna().any():
        s.blocks.append(CachedFigure("stability", (c,), lambda: cm.stability_chart(c)))
    cols = [
        "candidate",
        "objective",
        "backtest_eta2",
        "backtest_retention_spread",
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "stability",
        "smallest_share",
        "noise_share",
        "gate_failures",
        "passed_gates",
        "chosen",
    ]
    s.blocks += [
        "<h3>All candidates</h3>",
        table(d.candidates[cols], highlight="chosen", percent=("smallest_share", "noise_share")),
    ]
    return s


def segments_section(d: ReportData, colors: dict[str, str]) -> Section:
    """Embeddings, profile cards, RFM grid, migration and backtest."""
    s = Section("segments", "Segments")
    if d.summary.empty:
        s.blocks.append(notice("No scored customers with features; no segment profiles."))
        return s
    s.blocks.append(cm.share_chart(d.summary, colors))
    names = dict(zip(d.summary["segment_id"], d.summary["segment_name"], strict=True))
    if d.views and d.views[0].rows:
        var = sum(d.pca_variance)
        titles = {
            "pca": f"PCA of the model's feature space ({var:.0%} of variance)",
            "tsne": "t-SNE (seeded sample)",
        }
        # the stored views of the model (ops.model_embeddings): drawn once (chart_cache),
        # their points read only then
        for view in d.views:
            title = titles[view.method]
            s.blocks.append(
                CachedFigure(
                    f"embedding-{view.method}",
                    (view.key, names, colors, title),
                    lambda v=view, t=title: cm.embedding_chart(v.points(), names, colors, t),
                )
            )
        if d.embedding_note:
            s.blocks.append(para(f"Drawn at training: {d.embedding_note}."))
    else:
        s.blocks.append(notice(d.embedding_note or "No embedding available."))
    s.blocks += [
        "<h3>Profiles</h3>",
        profile_cards(
            d.summary, d.catalog, d.key_features, d.top_products, colors, currency=d.currency
        ),
    ]
    s.blocks.append("<h3>RFM</h3>")
    if d.rfm_grid.empty:
        s.blocks.append(
            notice(
                f"The {d.run.feature_set} feature set has no RFM scores "
                "(no transactions), so no RFM grid."
            )
        )
    else:
        s.blocks += [
            cm.rfm_heatmap(d.rfm_grid),
            cm.crosstab_heatmap(
                d.rfm_vs_segments, "RFM segment vs model segment", "model segment", "RFM segment"
            ),
        ]
    s.blocks.append("<h3>Migration</h3>")
    if d.migration.empty:
        s.blocks.append(
            notice(
                "No previous publish to compare with: this is the first "
                "published run (or runs are not recorded in ops.runs)."
            )
        )
    else:
        s.blocks += [para(f"Compared with run {d.previous_run}."), cm.migration_chart(d.migration)]
    s.blocks.append("<h3>Backtest</h3>")
    if d.backtests.empty:
        s.blocks.append(notice("No backtest is recorded for this model yet."))
    else:
        s.blocks.append(table(d.backtests, percent=("retention",)))
    return s


def build_sections(d: ReportData) -> list[Section]:
    """All sections in reading order, colours shared across them."""
    colors = ch.segment_colors(list(d.summary["segment_name"]) if len(d.summary) else [])
    return [data_section(d), eda_section(d, colors), model_section(d), segments_section(d, colors)]
