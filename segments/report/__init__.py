"""What people read: the self-contained run report (`data*` read the warehouse, `charts*`
build plotly figures, `sections` and `html_parts` lay them out, `render` writes one offline
page, `build` writes it for a run), the run summary artifact (`summary`),
`segments status` (`status`), the monitoring page across runs (`monitor_*`) and the retention
of old run folders (`retention`)."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "build_report": "build",
    "preload_report": "build",
    "build_monitor_page": "monitor_page",
    "monitor_page_path": "monitor_page",
    "report_path": "build",
    "run_summary": "summary",
    "status_report": "status",
    "write_status_snapshot": "status",
    "prune_reports": "retention",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
