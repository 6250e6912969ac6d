"""One night's increment, this checkout against another (e.g. main), interleaved in one session.

    python -m bench.night_ab --lines 1000000 --base-code /path/to/main --reps 3 --api-port 4511

On a shared machine the load changes over minutes, so two whole `make bench` runs one after
the other compare the load as much as the code. This builds one cold home (ingest + the first
run with training, by the base checkout), keeps a copy, and then, rep by rep, alternates the
two checkouts: restore the copy, `segments ingest` night 1's files, `segments run --retrain
never`, against one long-lived `prefect server` (the way production nights run); then once
each with Prefect's temporary server. Writes bench/results/night_ab_<lines>.md/.json with each
run's wall, its ops.runs stages, and the median ratios branch / base.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

from bench.memcap import memory_cap
from bench.nightly import PROJECT, RESULTS, WORK, command, environment
from bench.nightly_data import prepare
from bench.prefect_server import prefect_server

KEY_STAGES = ("ingest", "validate_staging", "features", "validate_features", "score",
              "validate_segments", "publish", "report")  # fmt: skip


def _night(label: str, data: Any, env: dict, cap: Any, log: Path) -> dict[str, Any]:
    night = data.nights[0]
    steps = [
        command(f"{label}: ingest", ["ingest", source, path], env, cap, log)
        for source, path in [*(("demo_transactions", t) for t in night.transactions),
                             ("demo_events", night.events)]
    ]  # fmt: skip
    run = command(f"{label}: run", ["run", "--as-of", night.as_of, "--retrain", "never"], env,
                  cap, log)  # fmt: skip
    return {
        "label": label,
        "ingest_wall": sum(s["wall_seconds"] for s in steps),
        "ingest_seconds": sum(s["seconds"] or 0 for s in steps),
        "ingest_cpu": sum(s["cpu_seconds"] or 0 for s in steps),
        "run_wall": run["wall_seconds"],
        "run_seconds": run["seconds"],
        "run_cpu": run["cpu_seconds"],
        "run_peak_rss_mb": run["peak_rss_mb"],
        "stages": run["stages"],
    }


def _load() -> dict[str, float]:
    """The 1-minute load average as a night ends: on a shared machine, what else competed."""
    return {"load_1m": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.night_ab", description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--base-code", type=Path, required=True)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--api-port", type=int, required=True)
    parser.add_argument("--workdir", type=Path, default=WORK)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    data = prepare(args.lines, 42, args.workdir, 3)
    root = args.workdir / f"night-ab-{args.lines}"
    shutil.rmtree(root, ignore_errors=True)
    home, cold = root / "home", root / "home-cold"
    log = root / "commands.log"
    codes = {"base": args.base_code, "branch": PROJECT}
    runs: list[dict[str, Any]] = []
    with memory_cap(None) as cap:
        envs = {name: environment(home, root, code) for name, code in codes.items()}
        with prefect_server(args.api_port, envs["base"], root / "prefect-server.log") as server:
            served = {
                name: {**env, "PREFECT_API_URL": server["url"], "PREFECT_UI_API_URL": server["url"]}
                for name, env in envs.items()
            }  # fmt: skip
            for label, cmd in [
                ("cold", ["ingest", "demo_customers", data.customers_csv]),
                ("cold", ["ingest", "demo_events", data.history_events]),
                ("cold", ["ingest", "demo_transactions", data.history_transactions]),
                ("cold", ["run", "--as-of", data.history_as_of, "--retrain", "always"]),
            ]:
                command(label, cmd, served["base"], cap, log)
            shutil.copytree(home, cold, symlinks=True)
            for rep in range(1, args.reps + 1):
                order = ("base", "branch") if rep % 2 else ("branch", "base")
                for name in order:
                    shutil.rmtree(home)
                    shutil.copytree(cold, home, symlinks=True)
                    run = _night(f"{name} rep {rep}, server", data, served[name], cap, log)
                    runs.append({**run, "code": name, "prefect": "server", **_load()})
        for name in ("base", "branch"):
            shutil.rmtree(home)
            shutil.copytree(cold, home, symlinks=True)
            run = _night(f"{name}, temporary server", data, envs[name], cap, log)
            runs.append({**run, "code": name, "prefect": "temporary", **_load()})
    out = {"lines": args.lines, "codes": {k: str(v) for k, v in codes.items()}, "runs": runs}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = args.results_dir / f"night_ab_{args.lines}"
    stem.with_suffix(".json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    text = render(out)
    stem.with_suffix(".md").write_text(text)
    print(text)


def _median(runs: list[dict], code: str, key: str, stage: str | None = None) -> float | None:
    values = [
        (r["stages"].get(stage) if stage else r.get(key))
        for r in runs
        if r["code"] == code and r["prefect"] == "server"
    ]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def render(out: dict[str, Any]) -> str:
    runs = out["runs"]
    lines = [
        f"## Night 1 increment at {out['lines']:,} lines: branch against base, interleaved",
        "",
        (
            f"base: `{out['codes']['base']}`; branch: `{out['codes']['branch']}`. Medians of "
            "the runs against the long-lived server (seconds)."
        ),
        "",
        "| measure | base | branch | branch / base |",
        "| --- | ---: | ---: | ---: |",
    ]
    rows = [
        ("ingest + run wall", "total_wall", None),
        ("ingest + run CPU (process trees)", "total_cpu", None),
        ("run wall", "run_wall", None),
        ("run CPU", "run_cpu", None),
        ("run (ops.runs)", "run_seconds", None),
        ("run peak RSS (MB)", "run_peak_rss_mb", None),
        ("ingest wall", "ingest_wall", None),
        ("ingest CPU", "ingest_cpu", None),
    ]
    rows += [(f"↳ {stage}", None, stage) for stage in KEY_STAGES]
    for run in runs:
        run["total_wall"] = run["ingest_wall"] + run["run_wall"]
        run["total_cpu"] = (run.get("ingest_cpu") or 0) + (run.get("run_cpu") or 0)
    for label, key, stage in rows:
        base, branch = _median(runs, "base", key, stage), _median(runs, "branch", key, stage)
        ratio = f"{branch / base:.2f}" if base and branch is not None else ""
        lines.append(f"| {label} | {base or 0:.2f} | {branch or 0:.2f} | {ratio} |")
    header = ("| run | prefect | ingest wall | ingest CPU | run wall | run CPU | run (ops.runs) "
              "| validate_staging | load (1 min) |")  # fmt: skip
    lines += ["", header, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in runs:
        lines.append(
            f"| {r['label']} | {r['prefect']} | {r['ingest_wall']:.2f} | "
            f"{r.get('ingest_cpu') or 0:.2f} | {r['run_wall']:.2f} | {r.get('run_cpu') or 0:.2f} | "
            f"{r['run_seconds'] or 0:.2f} | {r['stages'].get('validate_staging', 0):.2f} | "
            f"{r.get('load_1m', 0):.1f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
