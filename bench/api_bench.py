"""`make bench-api`: latency of the lookup service under a bounded local load, with and
without publishes replacing the serving file meanwhile.

    python -m bench.api_bench [--customers 20000] [--requests 2000] [--clients 8]

A real `segments api` (uvicorn) on 127.0.0.1 serves a published world of N customers. The
same load (REQUESTS lookups by raw id from CLIENTS concurrent keep-alive clients) runs twice
in this run: once while nothing publishes (the baseline), once while a second process
publishes in a loop (each publish rewrites serving.duckdb and renames it into place). Writes
bench/results/api_bench.md and .json: p50/p95/p99/max, requests per second, errors, and the
ratios of the publish phase to the baseline.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.report import machine_info

PROJECT_DIR = Path(__file__).resolve().parents[1]
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
WORLD = PROJECT_DIR / "tests" / "api" / "api_world.py"  # the service tests' publish helper
API_KEY = "bench-key"
PUBLISHER = r"""
import importlib.util, sys, time
from pathlib import Path
spec = importlib.util.spec_from_file_location("api_world", sys.argv[1])
world = importlib.util.module_from_spec(spec); spec.loader.exec_module(world)
settings = world.settings_for(Path(sys.argv[2]))
customers, stop, done = int(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
n = 1
while not stop.exists() and n < 200:
    world.publish(settings, n, customers)
    done.write_text(str(n))
    n += 1
"""


def _world() -> Any:
    spec = importlib.util.spec_from_file_location("api_world", WORLD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, round(q * (len(sorted_ms) - 1)))]


def run_load(base: str, raw_ids: list[str], requests: int, clients: int) -> dict[str, Any]:
    """`requests` lookups split over `clients` threads; latencies in ms, errors counted."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    runs: set[str] = set()
    lock = threading.Lock()

    def client(index: int) -> None:
        mine = range(index, requests, clients)
        with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=30) as http:
            for n in mine:
                path = f"/customers/{raw_ids[(n * 7919) % len(raw_ids)]}/segment"
                started = time.perf_counter()
                try:
                    response = http.get(path)
                    ok = response.status_code == 200
                    detail = "" if ok else f"{response.status_code} {response.text[:120]}"
                    run_id = response.json().get("run_id") if ok else None
                except httpx.HTTPError as exc:
                    ok, detail, run_id = False, f"{type(exc).__name__}: {exc}", None
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if ok:
                        runs.add(run_id)
                    else:
                        errors.append(detail)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "seconds": round(seconds, 3),
        "requests_per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(_percentile(ordered, 0.50), 2),
        "p95_ms": round(_percentile(ordered, 0.95), 2),
        "p99_ms": round(_percentile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1], 2) if ordered else None,
        "run_ids_seen": len(runs),
    }


def _start_api(home: Path, port: int, log: Path) -> subprocess.Popen:
    import httpx

    env = {
        **os.environ,
        "SEGMENTS_HOME": str(home),
        "SEGMENTS_PII_KEY": _world().KEY,
        "SEGMENTS_API_KEY": API_KEY,
    }
    segments = str(Path(sys.executable).with_name("segments"))
    proc = subprocess.Popen(
        [segments, "api", "--port", str(port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"segments api did not start; see {log}")


def bench(customers: int, requests: int, clients: int, workdir: Path) -> dict[str, Any]:
    world = _world()
    settings = world.settings_for(workdir / "home")
    t0 = time.perf_counter()
    world.publish(settings, 0, customers)
    publish_seconds = time.perf_counter() - t0
    raw_ids = world.raw_ids(customers)
    port = _free_port()
    api = _start_api(settings.home, port, workdir / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:
        run_load(base, raw_ids, min(200, requests), clients)  # warm-up, not reported
        baseline = run_load(base, raw_ids, requests, clients)
        stop, done = workdir / "stop", workdir / "published"
        script = workdir / "publisher.py"
        script.write_text(PUBLISHER)
        publisher = subprocess.Popen(
            [sys.executable, str(script), str(WORLD), str(settings.home), str(customers)]
            + [str(stop), str(done)]
        )
        try:
            while not done.exists() and publisher.poll() is None:  # publishing is under way
                time.sleep(0.05)
            first = int(done.read_text())
            during = run_load(base, raw_ids, requests, clients)
            last = int(done.read_text())
        finally:
            stop.touch()
            publisher.wait(300)
        during["publishes_completed_during_load"] = last - first
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(30)
    return {
        "machine": machine_info(),
        "customers": customers,
        "requests": requests,
        "clients": clients,
        "one_publish_seconds": round(publish_seconds, 2),
        "baseline": baseline,
        "during_publishes": during,
        "ratios": {
            key: round(during[key] / baseline[key], 2)
            for key in ("p50_ms", "p99_ms", "requests_per_second")
            if baseline[key]
        },
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        "| phase | requests | errors | p50 ms | p95 ms | p99 ms | max ms | req/s | runs seen |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("baseline", "during_publishes"):
        r = result[name]
        rows.append(
            f"| {name} | {r['requests']} | {r['errors']} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['p99_ms']} | {r['max_ms']} | {r['requests_per_second']} | {r['run_ids_seen']} |"
        )
    m, ratios = result["machine"], result["ratios"]
    during = result["during_publishes"]["publishes_completed_during_load"]
    intro = (
        f"{result['requests']} lookups `GET /customers/{{raw id}}/segment` from "
        f"{result['clients']} concurrent keep-alive clients on 127.0.0.1, over a publish of "
        f"{result['customers']:,} customers (one publish: {result['one_publish_seconds']} s). "
        "`during_publishes`: a second process publishes in a loop meanwhile "
        f"({during} publishes completed during the load)."
    )
    ratio_line = (
        f"Ratios, during publishes / baseline: p50 {ratios.get('p50_ms')}x, "
        f"p99 {ratios.get('p99_ms')}x, throughput {ratios.get('requests_per_second')}x."
    )
    machine = (
        f"Machine: {m.get('cpu_count')} cores, load average {m.get('load_average_1min')} "
        f"at the start, {m.get('date')}. Client and server share the machine."
    )
    title = "# Lookup service under load (`make bench-api`)"
    return "\n".join([title, "", intro, "", *rows, "", ratio_line, "", machine, ""])


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench", description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        result = bench(args.customers, args.requests, args.clients, Path(tmp))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / "api_bench.md"
    out.write_text(markdown(result))
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str))
    print(out.read_text())
    return out


if __name__ == "__main__":
    main()
