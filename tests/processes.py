"""Real child processes for the lock and crash tests (a helper module, not tests)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from segments.core.db import connect
    from segments.core.runs import open_run
    from segments.settings import Settings

    settings = Settings(home=Path(sys.argv[1]), pii_key="k" * 32)
    with open_run(settings, "holder-run", "nightly_segmentation") as (ctx, _):
        with ctx.stage("features"), connect(settings):
            Path(sys.argv[2]).touch()
            until = sys.argv[3]  # seconds, or a file whose appearance releases the warehouse
            if until.replace(".", "").isdigit():
                time.sleep(float(until))
            else:
                deadline = time.monotonic() + 600
                while not Path(until).exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
    """
)
OPEN_FILE = textwrap.dedent(
    """
    import sys, time, duckdb
    from pathlib import Path
    con = duckdb.connect(sys.argv[1])
    Path(sys.argv[2]).touch()
    time.sleep(float(sys.argv[3]))
    """
)


def start(script: str, tmp_path: Path, *args: str) -> subprocess.Popen:
    """Run `script` with (first arg, ready-marker, other args); return once it is ready."""
    ready = tmp_path / "ready"
    ready.unlink(missing_ok=True)
    path = tmp_path / "child.py"
    path.write_text(script)
    child = subprocess.Popen(
        [sys.executable, str(path), args[0], str(ready), *args[1:]], stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return child
