"""The watch loop: poll, load what is ready, sleep one interval; stop cleanly on a signal.

A cycle that finds the warehouse busy (a nightly run holds the lock) skips to the next one;
any other failure is logged and retried after a growing pause. Nothing a cycle raises stops
the watcher; Ctrl-C or SIGTERM stops it between cycles (a cycle in progress finishes).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from segments.core.locks import WarehouseBusyError

log = logging.getLogger(__name__)
Outcome = Literal["idle", "loaded", "busy", "error"]
MAX_BACKOFF_INTERVALS = 12  # a persistent failure is retried about once a minute at 5 s


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM while the block runs (main thread only; restored after)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        log.info("%s received: the watcher stops after this cycle", signal.Signals(signum).name)
        stop.set()

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, request_stop)
        except ValueError:  # not the main thread: the caller stops it through the event
            pass
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_watch(
    cycle: Callable[[int], Outcome],
    *,
    interval_s: float,
    stop: threading.Event,
    max_cycles: int | None = None,
) -> dict[str, int]:
    """Run cycles until stopped (or max_cycles); counts of each outcome."""
    counts = {"cycles": 0, "idle": 0, "loaded": 0, "busy": 0, "error": 0}
    failures = 0
    while not stop.is_set() and (max_cycles is None or counts["cycles"] < max_cycles):
        counts["cycles"] += 1
        try:
            outcome = cycle(counts["cycles"])
        except WarehouseBusyError as exc:
            log.info("warehouse busy, trying again next cycle: %s", exc)
            outcome = "busy"
        except Exception:  # the watcher outlives any one cycle
            log.exception("watch cycle %d failed; retrying later", counts["cycles"])
            outcome = "error"
        counts[outcome] += 1
        failures = failures + 1 if outcome == "error" else 0
        stop.wait(interval_s * min(2**failures, MAX_BACKOFF_INTERVALS) if failures else interval_s)
    return counts
