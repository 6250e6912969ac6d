"""Monitoring across runs and the feedback loop: drift of today's features against the
champion's training distribution (`psi`, `reference`, `drift`), model decay once a horizon
has matured (`decay`), the monitoring stage that turns both into a retrain reason and Prefect
events (`stage`, `events`), the segment KPI and campaign marts of a publish (`marts`) and the
lines of `segments status` (`status`)."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "DRIFT_DETECTED": "events",
    "MODEL_DECAYED": "events",
    "monitor_events": "events",
    "detect_drift": "drift",
    "check_decay": "decay",
    "monitor_stage": "stage",
    "save_reference": "reference",
    "load_reference": "reference",
    "write_monitor_marts": "marts",
    "uplift_z": "marts",
    "monitor_status_lines": "status",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
