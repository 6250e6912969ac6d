"""A long-lived `prefect server` for the benchmark: nights run the way production runs them.

Production nights are flow runs of a deployment against a server that is always up (README,
prefect.yaml), so a night pays no temporary-server start. The bench starts one server on
127.0.0.1:<port> before the first command, points the commands at it with PREFECT_API_URL,
and stops it at the end; it is the bench's own child, stopped by its pid.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFECT = str(Path(sys.executable).with_name("prefect"))


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def prefect_server(port: int, env: dict[str, str], log: Path) -> Iterator[dict[str, object]]:
    """Start `prefect server start` on `port`; yield its API URL and how long it took to start."""
    url = f"http://127.0.0.1:{port}/api"
    if _healthy(url):
        raise RuntimeError(f"port {port} already serves a Prefect API: pick another --api-port")
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("a") as out:
        server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env={**env, "PREFECT_API_URL": url},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        while not _healthy(url):
            if server.poll() is not None:
                raise RuntimeError(f"prefect server exited ({server.returncode}); see {log}")
            if time.perf_counter() - started > 180:
                raise RuntimeError(f"prefect server not healthy after 180 s; see {log}")
            time.sleep(0.5)
        yield {"url": url, "start_seconds": round(time.perf_counter() - started, 2)}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
