"""The Prefect API a command line run talks to, and a temporary one that dies with its parent.

With PREFECT_API_URL set (a `prefect server start` you run, or Prefect Cloud) runs are
recorded there. Without it, Prefect starts a temporary local server as a child process; if
the command is killed (kill -9, OOM) Prefect's atexit stop never runs and that server stayed
behind, listening, with its parent gone. So the command starts the temporary server itself
(Prefect then reuses it) together with a tiny watchdog process that stops the server as soon
as the command's process is gone.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Runs as `python -c`: no imports of ours, so it starts in milliseconds and needs nothing.
WATCHDOG = r"""
import os, signal, sys, time
parent, server = int(sys.argv[1]), int(sys.argv[2])

def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

while alive(server):
    if os.getppid() != parent:  # re-parented: the command that started the server is gone
        try:
            os.kill(server, signal.SIGTERM)
            for _ in range(100):
                if not alive(server):
                    break
                time.sleep(0.1)
            else:
                os.kill(server, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break
    time.sleep(0.5)
"""


def start_watchdog(parent_pid: int, server_pid: int) -> subprocess.Popen[bytes]:
    """A child that stops `server_pid` when `parent_pid` (this process) disappears."""
    return subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, str(parent_pid), str(server_pid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to the command's group must not stop it first
    )


def _drain_to(server: object) -> None:
    """Send queued logs and events while the server still listens (else: connection errors)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=10)
        except Exception:  # losing a last log line never fails the command
            logging.getLogger(__name__).debug("could not drain %s", worker, exc_info=True)


def _start_while(server: object, meanwhile: Callable[[], None] | None) -> None:
    """Start the server; `meanwhile` runs on this thread while it boots (seconds of waiting).

    Only the wait for the server's health check runs on a helper thread (it imports
    nothing), so no module is ever imported by two threads at once.
    """
    if meanwhile is None:
        server.start()
        return
    failure: list[BaseException] = []

    def start() -> None:
        try:
            server.start()
        except Exception as exc:  # noqa: BLE001 (raised again on the command's thread)
            failure.append(exc)

    starter = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    starter.start()
    try:
        meanwhile()
    finally:
        starter.join()
    if failure:
        raise failure[0]


@contextmanager
def prefect_api(meanwhile: Callable[[], None] | None = None) -> Iterator[str | None]:
    """Yield the API URL runs use; a temporary server is started (and guarded) if none is set.

    `meanwhile` (imports the run will need) runs while the temporary server starts; with a
    configured server there is no wait to fill, so it is not called (imports come when used).
    """
    import os

    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    configured = PREFECT_API_URL.value()
    if configured or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        yield configured
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance Prefect's client uses when no URL is set
    _start_while(server, meanwhile)
    watchdog = None
    if server.server_process is not None:
        watchdog = start_watchdog(os.getpid(), server.server_process.pid)
    try:
        yield server.api_url
    finally:
        _drain_to(server)
        server.stop()
        if watchdog is not None:
            watchdog.terminate()
            watchdog.wait(timeout=10)
