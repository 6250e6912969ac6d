"""Event-driven ingest: which landing files are ready (`landing`), loading them through the
public ingest path and the event each load emits (`load`), and the polling loop that stops
cleanly on a signal (`loop`). Prefect itself (the flow, the events) stays in flows/ and tasks/."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "LandedFile": "landing",
    "LandingWatcher": "landing",
    "PARTIAL_SUFFIXES": "landing",
    "landing_watcher": "landing",
    "load_event": "load",
    "load_landed": "load",
    "run_watch": "loop",
    "stop_on_signals": "loop",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
