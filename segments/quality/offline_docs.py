"""Data Docs that work offline: no CDN, and an index page that lists every suite of the run.

GX's pages load Bootstrap, jQuery and their table plugin from CDNs, so offline (or behind a
proxy) they render unstyled and the index page, drawn by JavaScript, is empty. After each
build, every page's remote stylesheets and scripts are replaced by one small inline
stylesheet (the validation pages are plain HTML tables, readable without JavaScript), and the
index is rewritten as static HTML from ops.dq_results: every suite validated in the run, its
counts, its failed expectations and links to GX's pages.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import duckdb

_REMOTE = re.compile(
    r"<link\b[^>]*href=\"https?://[^\"]*\"[^>]*>"
    r"|<script\b[^>]*src=\"https?://[^\"]*\"[^>]*>\s*</script>"
    r"|<img\b[^>]*src=\"https?://[^\"]*\"[^>]*>",
    re.IGNORECASE,
)
OFFLINE_MARK = "<!-- segments: offline -->"
OFFLINE_CSS = """<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#212529;line-height:1.45}
.container,.container-fluid,main{max-width:1200px;margin:0 auto;padding:16px}
nav,.navbar{background:#f1f3f5;padding:8px 16px;border-bottom:1px solid #dee2e6}
a{color:#0b5cad}table{border-collapse:collapse;width:100%;margin:8px 0 16px}
th,td{border:1px solid #dee2e6;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}
th{background:#f8f9fa}.card{border:1px solid #dee2e6;border-radius:6px;margin:12px 0;padding:8px}
.card-header{font-weight:600;margin-bottom:6px}.collapse{display:block}
.text-danger,.fail{color:#b02a37}.text-success,.ok{color:#146c43}.badge{padding:1px 6px;border-radius:4px}
.sticky,.cooltip .top,.popover,[data-toggle="popover"] .top{position:static}
.d-none,.ge-footer,.navbar-toggler{display:none}
</style>"""


def strip_remote_assets(html: str) -> str:
    """The page without CDN stylesheets, scripts and images, with the inline stylesheet."""
    if OFFLINE_MARK in html:
        return html
    html = _REMOTE.sub("", html)
    return html.replace("</head>", f"{OFFLINE_MARK}\n{OFFLINE_CSS}\n</head>", 1)


def _pages(docs_dir: Path) -> list[Path]:
    return [p for p in docs_dir.rglob("*.html") if "_gx_store" not in p.parts]


def _validation_page(docs_dir: Path, suite: str, run_id: str) -> Path | None:
    pages = sorted((docs_dir / "validations" / suite / run_id).glob("*/*.html"))
    return pages[-1] if pages else None


def index_page(con: duckdb.DuckDBPyConnection, docs_dir: Path, run_id: str) -> str:
    """Static index: every suite of the run with its counts and failures, linked to GX pages."""
    suites = con.execute(
        "select stage, suite, relation, count(*), count(*) filter (where success), "
        "count(*) filter (where not success and severity = 'critical'), "
        "count(*) filter (where not success and severity = 'warning') "
        "from ops.dq_results where run_id = $r group by all order by min(validated_at), suite",
        {"r": run_id},
    ).fetchall()
    failed = con.execute(
        "select suite, severity, expectation_type, coalesce(column_name, ''), observed_value "
        "from ops.dq_results where run_id = $r and not success "
        "order by severity, suite, expectation_type",
        {"r": run_id},
    ).fetchall()
    rows = []
    for stage, suite, relation, total, passed, critical, warnings in suites:
        page = _validation_page(docs_dir, suite, run_id)
        link = (
            f'<a href="{escape(page.relative_to(docs_dir).as_posix())}">results</a>'
            if page
            else ""
        )
        suite_page = docs_dir / "expectations" / f"{suite}.html"
        if suite_page.exists():
            link += f' · <a href="expectations/{escape(suite)}.html">suite</a>'
        verdict = (
            '<span class="fail">critical failure</span>'
            if critical
            else '<span class="ok">passed</span>'
            + (f" ({warnings} warning(s))" if warnings else "")
        )
        rows.append(
            f"<tr><td>{escape(stage)}</td><td>{escape(suite)}</td><td>{escape(relation)}</td>"
            f"<td>{passed} of {total}</td><td>{verdict}</td><td>{link}</td></tr>"
        )
    failures = "".join(
        f"<tr><td>{escape(s)}</td><td>{escape(sev)}</td><td>{escape(t)}</td><td>{escape(c)}</td>"
        f"<td>{escape(str(o or ''))}</td></tr>"
        for s, sev, t, c, o in failed
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Data quality of run {escape(run_id)}</title>{OFFLINE_MARK}{OFFLINE_CSS}</head>"
        f"<body><main><h1>Data quality of run {escape(run_id)}</h1>"
        "<p>Every Great Expectations suite validated in this run (all results are in "
        "<code>ops.dq_results</code>; the run report shows them too).</p>"
        "<table><tr><th>stage</th><th>suite</th><th>relation</th><th>passed</th>"
        f"<th>verdict</th><th>pages</th></tr>{''.join(rows)}</table>"
        + (
            "<h2>Failed expectations</h2><table><tr><th>suite</th><th>severity</th>"
            f"<th>expectation</th><th>column</th><th>observed</th></tr>{failures}</table>"
            if failures
            else "<p>Every expectation passed.</p>"
        )
        + "</main></body></html>"
    )


def make_offline(con: duckdb.DuckDBPyConnection, docs_dir: Path, run_id: str) -> Path | None:
    """Rewrite the run's Data Docs to work offline; returns the index page (None: no docs)."""
    if not docs_dir.is_dir():
        return None
    for page in _pages(docs_dir):
        text = page.read_text(encoding="utf-8")
        offline = strip_remote_assets(text)
        if offline != text:
            page.write_text(offline, encoding="utf-8")
    index = docs_dir / "index.html"
    index.write_text(index_page(con, docs_dir, run_id), encoding="utf-8")
    return index
