"""One writer at a time: a lock file under SEGMENTS_HOME held for a whole pipeline run.

DuckDB allows one writing process per file, but a run opens and closes its connection per
task, so two runs could interleave their writes. The lock makes the second run wait, then
fail with a message naming who holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HELD: dict[Path, int] = {}  # re-entrancy: a backfill's nightly subflows run inside its lock


class WarehouseBusyError(RuntimeError):
    """Another run holds the warehouse for longer than we were willing to wait."""


@contextmanager
def warehouse_lock(
    home: Path, owner: str, *, timeout_s: float = 3600.0, poll_s: float = 1.0
) -> Iterator[None]:
    """Hold SEGMENTS_HOME/.warehouse.lock; wait up to timeout_s for a running run to finish."""
    home.mkdir(parents=True, exist_ok=True)
    path = (home / ".warehouse.lock").resolve()
    if _HELD.get(path):
        _HELD[path] += 1
        try:
            yield
        finally:
            _HELD[path] -= 1
        return
    handle = path.open("a+")
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise WarehouseBusyError(
                        f"the warehouse at {home} is busy: {holder} is still running after "
                        f"{timeout_s:.0f}s; wait for it to finish or stop it, then retry"
                    ) from None
                time.sleep(poll_s)
        handle.seek(0)
        handle.truncate()
        handle.write(f"run {owner} (pid {os.getpid()})\n")
        handle.flush()
        _HELD[path] = 1
        yield
    finally:
        _HELD.pop(path, None)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
