"""Shared test setup: an isolated Prefect home and one Prefect test server per session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before Prefect is imported anywhere: its home, and no network calls from an offline machine.
_PREFECT_HOME = tempfile.mkdtemp(prefix="segments-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.pop("PREFECT_API_URL", None)
# OpenMP + OpenBLAS with 2 threads each oversubscribe a 2-core runner (K-means 8x slower).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

PROJECT_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server + database for every flow test (starting one takes ~20 s)."""
    from prefect.testing.utilities import prefect_test_harness

    _rebind_closed_log_streams()
    with prefect_test_harness(server_startup_timeout=120):
        yield
        _rebind_closed_log_streams()  # the harness logs as it stops the server


def _rebind_closed_log_streams() -> None:
    """Point log handlers whose stream was closed (a finished test's capsys) at stderr.

    Prefect binds its console handler to sys.stderr once; a CLI test under capsys can be the
    first to set it up, and the harness's "Stopping temporary server" line would then hit a
    closed stream (the module's tests failed run alone, not in the whole suite).
    """
    import logging
    import sys

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
                handler.stream = sys.stderr  # not setStream: it flushes the closed one
                if hasattr(handler, "console"):  # PrefectConsoleHandler prints through rich
                    handler.console.file = sys.stderr


@pytest.fixture
def segments_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SEGMENTS_HOME in tmp_path, with a fixed PII key."""
    home = tmp_path / "home"
    monkeypatch.setenv("SEGMENTS_HOME", str(home))
    monkeypatch.setenv("SEGMENTS_PII_KEY", "test-key-not-secret")
    monkeypatch.delenv("SEGMENTS_ENVIRONMENT", raising=False)
    return home
