"""Progress of a long step: a log line the CLI shows and, inside a Prefect run, a progress
artifact that the Prefect UI updates live (one per step, keyed by the step's name).

    progress = Progress("features", "feature layer as of 2026-01-01")
    for done, model in enumerate(models, start=1):
        ...
        progress.update(done / len(models), model)
    progress.done()

Updates are throttled (a log line and an API call at most every `min_interval_s` seconds),
so a tight loop may call `update` as often as it likes. Outside a Prefect run (a plain CLI
command, a test, a notebook) only the log lines are written: no Prefect server is started.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

log = logging.getLogger("segments.progress")


def _in_prefect_run() -> bool:
    """Whether this code runs inside a Prefect flow or task run (where artifacts belong)."""
    try:
        from prefect.context import FlowRunContext, TaskRunContext
    except ImportError:  # pragma: no cover - prefect is a dependency
        return False
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def artifact_key(name: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"progress-{name}".lower()).strip("-")


class Progress:
    """One step's progress, from 0 to 1, shown as log lines and a Prefect progress artifact."""

    def __init__(self, name: str, description: str, *, min_interval_s: float = 1.0) -> None:
        self.name = name
        self.description = description
        self.min_interval_s = min_interval_s
        self.fraction = 0.0
        self._artifact: Any = None
        self._last = float("-inf")
        self._prefect = _in_prefect_run()

    def update(self, fraction: float, note: str = "") -> None:
        """Record progress (a fraction of the step); shown unless shown a moment ago."""
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        if self.fraction < 1.0 and now - self._last < self.min_interval_s:
            return
        self._last = now
        percent = round(100 * self.fraction, 1)
        log.info("%s: %.0f%%%s", self.description, percent, f" ({note})" if note else "")
        if self._prefect:
            self._publish(percent, note)

    def done(self, note: str = "") -> None:
        """The step finished: 100%, always shown."""
        self.update(1.0, note)

    def _publish(self, percent: float, note: str) -> None:
        """Create the artifact on first use, then move it; a failing API never fails the step."""
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        text = f"{self.description}" + (f": {note}" if note else "")
        try:
            if self._artifact is None:
                self._artifact = create_progress_artifact(
                    percent, key=artifact_key(self.name), description=text
                )
            else:
                update_progress_artifact(self._artifact, percent, description=text)
        except Exception as exc:  # noqa: BLE001 - progress is information, not the work
            log.warning("progress artifact for %s not updated: %s", self.name, exc)
            self._prefect = False
