"""One writer at a time: a lock file under SEGMENTS_HOME held for a whole pipeline run.

DuckDB allows one writing process per file, but a run opens and closes its connection per
task, so two runs could interleave their writes. Every command that writes takes this lock
(through `segments.core.runs.open_run`): a second writer waits, saying who holds it, then
fails naming the holder. The holder writes who it is (run, flow, pid, host, stage) into the
lock file, so waiting writers and `segments status` can say so. Readers take the lock shared
and only when it is free: a reader never opens warehouse.duckdb while a run works in it (that
would make the run's next connection fail).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from segments.core.errors import BusyError

log = logging.getLogger(__name__)
LOCK_FILE = ".warehouse.lock"
WAIT_NOTICE_EVERY_S = 60.0


class WarehouseBusyError(BusyError):
    """Another run holds the warehouse for longer than we were willing to wait."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Holder:
    """Who holds the warehouse: written into the lock file by the holder."""

    owner: str
    run_id: str | None = None
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    since: str = field(default_factory=_now)
    stage: str | None = None

    def describe(self) -> str:
        stage = f", stage {self.stage}" if self.stage else ""
        return f"{self.owner} (pid {self.pid} on {self.host}, since {self.since}{stage})"


@dataclass
class _Held:
    count: int
    handle: IO[str]
    holder: Holder


_HELD: dict[Path, _Held] = {}  # re-entrancy: a backfill's nightly subflows run inside its lock


def lock_path(home: Path) -> Path:
    return (home / LOCK_FILE).resolve()


def read_holder(home: Path) -> Holder | None:
    """The holder recorded in the lock file (None when nobody ever wrote one)."""
    try:
        text = lock_path(home).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not text:
        return None
    try:
        data: dict[str, Any] = json.loads(text)
        return Holder(**{k: v for k, v in data.items() if k in Holder.__dataclass_fields__})
    except (ValueError, TypeError):
        return Holder(owner=text, pid=-1, host="?", since="?")


def _write_holder(handle: IO[str], holder: Holder) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(asdict(holder)) + "\n")
    handle.flush()


def set_stage(home: Path, stage: str | None) -> None:
    """Say in the lock file which stage the holder is in (no-op when not held here)."""
    held = _HELD.get(lock_path(home))
    if held is not None:
        held.holder.stage = stage
        _write_holder(held.handle, held.holder)


def holds_lock(home: Path) -> bool:
    """Whether this process holds the warehouse lock."""
    return lock_path(home) in _HELD


@contextmanager
def warehouse_lock(
    home: Path,
    owner: str,
    *,
    run_id: str | None = None,
    timeout_s: float = 3600.0,
    poll_s: float = 1.0,
) -> Iterator[None]:
    """Hold SEGMENTS_HOME/.warehouse.lock; wait up to timeout_s for a running run to finish."""
    home.mkdir(parents=True, exist_ok=True)
    path = lock_path(home)
    held = _HELD.get(path)
    if held is not None:
        held.count += 1
        try:
            yield
        finally:
            held.count -= 1
        return
    handle = path.open("a+")
    started = time.monotonic()
    noticed = -WAIT_NOTICE_EVERY_S
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                holder = read_holder(home)
                who = holder.describe() if holder else "another process"
                if waited >= timeout_s:
                    raise WarehouseBusyError(
                        f"the warehouse at {home} is busy: {who} still holds it after "
                        f"{timeout_s:.0f}s; wait for it to finish (or stop it), then retry "
                        "(SEGMENTS_LOCK_TIMEOUT_SECONDS sets the wait)"
                    ) from None
                if waited - noticed >= WAIT_NOTICE_EVERY_S:
                    noticed = waited
                    log.warning(
                        "waiting for the warehouse: %s holds it (waiting up to %.0fs more)",
                        who,
                        timeout_s - waited,
                    )
                time.sleep(min(poll_s, max(timeout_s - waited, 0.01)))
        holder = Holder(owner=owner, run_id=run_id)
        _write_holder(handle, holder)
        _HELD[path] = _Held(1, handle, holder)
        yield
    finally:
        if _HELD.get(path) is not None and _HELD[path].handle is handle:
            del _HELD[path]
            handle.seek(0)
            handle.truncate()  # nobody holds it: no stale holder for readers to report
            handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextmanager
def read_lock(home: Path) -> Iterator[Holder | None]:
    """For readers: yields None holding the lock shared (the warehouse may be opened read-only),
    or the current writer when one holds it (then read a snapshot, never the warehouse)."""
    path = lock_path(home)
    if path in _HELD:  # this process writes: it may read its own warehouse
        yield None
        return
    if not path.exists():
        yield None
        return
    with path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield read_holder(home) or Holder(owner="another process", pid=-1, host="?")
            return
        try:
            yield None
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
