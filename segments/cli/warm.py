"""Imports a nightly run needs, done while the command waits for Prefect's temporary server.

Great Expectations, scikit-learn, SciPy and plotly take seconds of CPU to import, and each
stage paid them on first use (validate_staging paid Great Expectations). The command is
idle for longer than that while the server boots, so it imports them then.
"""

from __future__ import annotations

import importlib
import logging

# third-party modules of the stages after ingest that no package preload covers: scoring
RUN_MODULES = ("sklearn.cluster", "scipy.stats")


def warm_up() -> None:
    """Import what the stages of a run will need; a failure here only shows up later."""
    try:
        from segments.quality import preload_gx

        preload_gx()
        for name in RUN_MODULES:
            importlib.import_module(name)
        from segments.report import preload_report

        preload_report()
    except Exception:  # the stage that needs the module will raise it with its context
        logging.getLogger(__name__).debug("warm-up import failed", exc_info=True)
