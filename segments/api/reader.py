"""The serving file as the lookup service sees it: one read-only snapshot per publish.

A publish replaces serving.duckdb with os.replace, so the path names a new inode while
readers of the old one keep reading it. Each request checks the path's (inode, mtime, size);
when it changed, the next snapshot is opened and the old one is closed once the last request
using it is done. The file is attached to a private in-memory database: `duckdb.connect(path)`
would hand back the process's cached instance of the *old* file while one is still open.
The warehouse is never opened, so the service can never block the pipeline's writer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

ALIAS = "serving"  # every query names its tables as serving.<table>


class NotPublishedError(RuntimeError):
    """No serving file yet: nothing has been published under this SEGMENTS_HOME."""


@dataclass
class _Snapshot:
    """One opened version of the serving file and how many requests are using it."""

    identity: tuple[int, int, int]
    con: duckdb.DuckDBPyConnection
    users: int = 0
    retired: bool = False


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What changes when a publish renames a new file into place."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _open(path: Path, threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config={"threads": threads})
    literal = str(path).replace("'", "''")  # ATTACH takes no parameters; the path is ours
    con.execute(f"attach '{literal}' as {ALIAS} (read_only)")
    return con


class ServingReader:
    """Thread-safe access to the latest published serving file, reopened after each publish."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = threads
        self.reopened = 0  # how many times a new publish was picked up (for /health and tests)
        self._current: _Snapshot | None = None
        self._lock = threading.Lock()

    def _snapshot(self) -> _Snapshot:
        """The snapshot of the file now at `path`, opening it if a publish replaced it."""
        identity = _identity(self.path)
        with self._lock:
            current = self._current
            if identity is None and current is None:
                raise NotPublishedError(
                    f"{self.path} does not exist yet: run the pipeline (`segments run`) "
                    "to publish segments first"
                )
            if current is None or (identity is not None and identity != current.identity):
                try:
                    fresh = _Snapshot(identity, _open(self.path, self.threads))
                except (duckdb.IOException, duckdb.InvalidInputException):
                    if current is None:  # nothing served yet, and the file is not readable
                        raise
                    fresh = None  # keep serving the previous publish; retry next request
                if fresh is not None:
                    if current is not None:
                        self._retire(current)
                    self._current = current = fresh
                    self.reopened += 1
            current.users += 1
            return current

    def _retire(self, snapshot: _Snapshot) -> None:
        snapshot.retired = True
        if snapshot.users == 0:
            snapshot.con.close()

    def _release(self, snapshot: _Snapshot) -> None:
        with self._lock:
            snapshot.users -= 1
            if snapshot.retired and snapshot.users == 0:
                snapshot.con.close()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on one snapshot, held for one request (a publish meanwhile is fine)."""
        snapshot = self._snapshot()
        try:
            cur = snapshot.con.cursor()
            try:
                yield cur
            finally:
                cur.close()
        finally:
            self._release(snapshot)

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                self._retire(self._current)
                self._current = None
