"""Assemble the report into one self-contained HTML page: plotly.js embedded once, no network."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from segments.report.chart_cache import CachedFigure, cache_dir, cached_html
from segments.report.charts import TEMPLATE, white_template
from segments.report.data import ReportData
from segments.report.html_parts import table
from segments.report.sections import Section, build_sections

CONFIG = {"displaylogo": False, "responsive": True, "scrollZoom": False}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#f6f7f9}
header{position:sticky;top:0;z-index:10;background:#1f2937;color:#fff;padding:.6rem 1.2rem;
display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header h1{font-size:1.1rem;margin:0}header a{color:#cfe3ff;margin-right:.8rem}
main{max-width:1200px;margin:0 auto;padding:1rem 1.2rem}
section{background:#fff;border-radius:8px;padding:1rem 1.2rem;margin:1rem 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
.notice{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem .8rem}
.muted{color:#777}.table-wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e5e7eb;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}tr.hl td{font-weight:700;background:#ecfdf5}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:1rem}
.card{border:1px solid #e5e7eb;border-top:6px solid #888;border-radius:8px;padding:.8rem}
.card h3{margin:.2rem 0}.card h4{margin:.6rem 0 .2rem;font-size:.9rem}
.kpis{display:flex;gap:1rem;flex-wrap:wrap}.chart{margin:.8rem 0}
"""

FILTER_JS = """
(function () {
  var select = document.getElementById('segment-filter');
  if (!select) { return; }
  select.addEventListener('change', function () {
    var want = select.value;
    document.querySelectorAll('.js-plotly-plot').forEach(function (div) {
      var meta = div.layout && div.layout.meta;
      if (!meta || !meta.segment_filter) { return; }
      var visible = div.data.map(function (trace) {
        return want === '' || trace.name === want ? true : 'legendonly';
      });
      Plotly.restyle(div, {visible: visible});
    });
    document.querySelectorAll('.card[data-segment]').forEach(function (card) {
      card.style.display = want === '' || card.dataset.segment === want ? '' : 'none';
    });
  });
})();
"""


def _figure_html(fig: go.Figure, div_id: str) -> str:
    """One figure's div and script; plotly.js itself is embedded once per page."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=div_id,
        config=CONFIG,
    )


def _section_html(section: Section, start: int, cache: Path | None) -> tuple[str, int]:
    """A section's HTML and how many charts it holds (ids continue from start); charts that
    only change with the model come from `cache` when their inputs match."""
    parts, n = [], start
    for block in section.blocks:
        if isinstance(block, go.Figure):
            parts.append(f'<div class="chart">{_figure_html(block, f"chart-{n}")}</div>')
            n += 1
        elif isinstance(block, CachedFigure):
            html = cached_html(block, cache, f"chart-{n}", TEMPLATE, _figure_html)
            parts.append(f'<div class="chart">{html}</div>')
            n += 1
        else:
            parts.append(block)
    body = "\n".join(parts)
    return (
        f'<section id="{section.id}"><h2>{escape(section.title)}</h2>\n{body}</section>',
        n - start,
    )


def render_html(data: ReportData) -> tuple[str, int]:
    """The whole page and its number of charts (the browser test checks each one drew)."""
    with white_template():  # figures take the template when built and when written
        sections = build_sections(data)
        cache = cache_dir(data.run.artifact_path)
        html_sections, charts = [], 0
        for section in sections:
            html, n = _section_html(section, charts, cache)
            html_sections.append(html)
            charts += n
    r = data.run
    names = list(data.summary["segment_name"]) if len(data.summary) else []
    options = "".join(f'<option value="{escape(n)}">{escape(n)}</option>' for n in names)
    nav = "".join(f'<a href="#{s.id}">{escape(s.title)}</a>' for s in sections)
    stages = f"<h3>Stages</h3>{table(data.stages)}" if len(data.stages) else ""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Segmentation report {escape(r.run_id)}</title><style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body data-charts="{charts}">
<header><h1>Segmentation run {escape(r.run_id)}</h1><nav>{nav}<a href="../monitor.html">Monitoring
across runs</a></nav>
<label>Segment <select id="segment-filter"><option value="">All segments</option>{options}
</select></label></header>
<main>
<section id="summary"><p>As of <b>{r.as_of}</b> · {r.customers:,} customers scored ·
model <code>{escape(r.model_version)}</code> ({escape(r.algorithm)}, k={r.k}, feature set
<code>{escape(r.feature_set)}</code>) · money in {escape(data.currency)} · generated {generated}</p>
{stages}</section>
{"".join(html_sections)}
</main>
<script type="text/javascript">{FILTER_JS}</script>
</body></html>
"""
    return page, charts


def write_atomic(path: Path, text: str) -> Path:
    """Write via a temp file in the same folder and os.replace: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; analysts must be able to open it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def safe_dirname(run_id: str) -> str:
    """A run id as a folder name (Prefect run names may hold spaces or slashes)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._")
    if not name or name == "latest":
        raise ValueError(f"run id {run_id!r} cannot name a report folder; use another run id")
    return name
