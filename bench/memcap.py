"""Run a benchmark command under a memory cap, and measure its peak.

How the cap is applied, first that works here:
1. a cgroup (v2 `memory.max`, or v1 `memory.limit_in_bytes`) made as a child of this
   process's own cgroup: the cap covers the whole process tree (the CLI, DuckDB's threads,
   Prefect's temporary server) and the kernel reports the tree's peak
   (`memory.peak` / `memory.max_usage_in_bytes`, page cache included);
2. otherwise `RLIMIT_AS` (what `prlimit --as` / `ulimit -v` set) on the command: per process,
   on address space rather than resident memory, so it is a stricter and cruder cap.
systemd-run --scope -p MemoryMax=... needs systemd as PID 1, which containers often lack.
The peak RSS of the largest process (getrusage of the children) is measured either way.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_bytes(text: str) -> int:
    """'4G' -> bytes."""
    text = text.strip().upper().removesuffix("B")
    return int(float(text[:-1]) * _UNITS[text[-1]]) if text[-1] in _UNITS else int(text)


def _own_cgroup() -> tuple[Path, str] | None:
    """This process's memory cgroup folder and its version ('2' or '1'), if writable."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        number, controllers, path = line.split(":", 2)
        if number == "0" and not controllers:  # unified hierarchy
            folder = Path("/sys/fs/cgroup") / path.lstrip("/")
            if (folder / "cgroup.controllers").exists() and "memory" in (
                folder / "cgroup.controllers"
            ).read_text():
                return folder, "2"
        if "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if (folder / "memory.limit_in_bytes").exists():
                return folder, "1"
    return None


@dataclass
class Cap:
    """Where a capped command runs; `describe` is what the results table says."""

    limit: int | None
    cgroup: Path | None = None
    version: str = ""

    @property
    def describe(self) -> str:
        if self.limit is None:
            return "no memory cap"
        size = f"{self.limit / (1 << 30):.1f} GB"
        if self.cgroup is not None:
            return f"{size} cap on the process tree (cgroup v{self.version} {self.cgroup.name})"
        return f"{size} cap per process (RLIMIT_AS, no writable cgroup here)"

    def peak_bytes(self) -> int | None:
        if self.cgroup is None:
            return None
        name = "memory.peak" if self.version == "2" else "memory.max_usage_in_bytes"
        try:
            return int((self.cgroup / name).read_text())
        except (OSError, ValueError):
            return None

    def reset_peak(self) -> None:
        if self.cgroup is not None and self.version == "1":
            try:
                (self.cgroup / "memory.max_usage_in_bytes").write_text("0")
            except OSError:
                pass


@contextmanager
def memory_cap(limit: str | None):
    """A cap for the commands run inside the block (a cgroup made and removed here)."""
    if not limit:
        yield Cap(None)
        return
    size = parse_bytes(limit)
    found = _own_cgroup()
    cap = Cap(size)
    if found is not None:
        parent, version = found
        folder = parent / f"segments-bench-{os.getpid()}"
        try:
            folder.mkdir()
            if version == "2":
                (folder / "memory.max").write_text(str(size))
            else:
                (folder / "memory.limit_in_bytes").write_text(str(size))
            cap = Cap(size, folder, version)
        except OSError:
            cap = Cap(size)
    try:
        yield cap
    finally:
        if cap.cgroup is not None:
            time.sleep(0.2)  # let the last process leave before the folder goes
            try:
                cap.cgroup.rmdir()
            except OSError:
                pass


def run(cmd: list[str], cap: Cap, **kwargs: Any) -> dict[str, Any]:
    """Run one command under the cap: wall and CPU seconds, peak RSS, exit code, output.

    Each command runs in a fresh child that reports its own children's usage, so the peak
    belongs to this command alone.
    """
    wrapper = [sys.executable, "-c", _WRAPPER, *cmd]

    def enter() -> None:
        if cap.cgroup is not None:
            (cap.cgroup / "cgroup.procs").write_text(str(os.getpid()))
        elif cap.limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (cap.limit, cap.limit))

    cap.reset_peak()
    started = time.perf_counter()
    done = subprocess.run(
        wrapper, check=False, preexec_fn=enter, capture_output=True, text=True, **kwargs
    )
    wall = time.perf_counter() - started
    usage: dict[str, float] = {}
    lines = done.stderr.rstrip().splitlines()
    if lines and lines[-1].startswith("BENCH_USAGE "):
        usage = dict(zip(("cpu", "maxrss_kb"), map(float, lines[-1].split()[1:]), strict=True))
        done.stderr = "\n".join(lines[:-1])
    peak = cap.peak_bytes()
    return {
        "returncode": done.returncode,
        "wall_seconds": wall,
        "cpu_seconds": usage.get("cpu"),
        "peak_rss_mb": usage.get("maxrss_kb", 0) / 1024 or None,
        "tree_peak_mb": peak / (1 << 20) if peak else None,
        "stdout": done.stdout,
        "stderr": done.stderr,
    }


# runs the command, then reports the CPU and the largest peak RSS of its process tree
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"BENCH_USAGE {u.ru_utime + u.ru_stime} {u.ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""
