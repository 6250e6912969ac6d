"""`make bench`: what a retailer's nights cost, as a user runs them, beside the floor and the
peer notebook measured in the same run.

    python -m bench.nightly --lines 1000000 10000000 [--nights 2] [--memory-cap 4G]

Per size: demo lines in the UCI Online Retail shape, split into a history and nights
(bench/nightly_data.py: late lines, a corrected file landed again), as Parquet. Then, each
as its own process, in one fresh SEGMENTS_HOME:
- floor: one DuckDB read of the Parquet + group by customer; peer: the pandas notebook;
- the cold start: `segments ingest` of customers, events and the history's transactions,
  then `segments run --retrain always` (first run, trains);
- each night: `segments ingest` of its files, then `segments run --retrain never`;
- then `segments rebuild`: every aggregate and feature recomputed from staging (what a night
  would cost without the incremental layer; it also says whether the nights kept them exact);
- with `--workers 1 2`: the last night's run again in one process, then with
  SEGMENTS_PARTITIONS=--partitions buckets on a LocalCluster of each worker count.
With `--api-port P` (what `make bench` does) a `prefect server` is started once on
127.0.0.1:P and every command but the last night's run talks to it (PREFECT_API_URL), the way
production nights run against a long-lived server; the last night runs as `segments run`
does on a laptop, with Prefect's temporary server, so the table shows both (use --nights 3:
two nights against the server, then one with the temporary server).
`--code DIR` runs the commands of another checkout (e.g. main) with this bench: a baseline
measured in the same session.
Seconds are the work each command recorded in ops.runs (`wall` adds Python start-up, imports
and, for `segments run` without a server, Prefect's temporary server); CPU and peak RSS are
the process tree's.
Writes bench/results/nightly_<lines>.md/.json and the cross-size summary nightly.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.memcap import Cap, memory_cap, run
from bench.nightly_data import BenchData, night_lines, prepare
from bench.nightly_report import render_size, render_summary
from bench.prefect_server import prefect_server

PROJECT = Path(__file__).resolve().parents[1]
WORK = PROJECT / "bench" / "work"
RESULTS = PROJECT / "bench" / "results"
SEGMENTS = str(Path(sys.executable).with_name("segments"))
CAP_FROM_LINES = 100_000_000  # the 100M check runs under a 4 GB cap
THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def environment(home: Path, workdir: Path, code: Path = PROJECT) -> dict[str, str]:
    """The commands' environment; `code` is the checkout whose segments they run."""
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_UI_API_URL")
    }  # no server unless the bench starts one (--api-port)
    return {
        **inherited,
        **THREADS,
        "SEGMENTS_HOME": str(home),
        "SEGMENTS_PII_KEY": os.environ.get("SEGMENTS_PII_KEY", "bench-key-not-secret-0123456789"),
        "SEGMENTS_ENVIRONMENT": "demo",
        "PREFECT_HOME": str(workdir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": str(code),
    }


def machine_load() -> dict[str, Any]:
    """Load average and the busiest other processes: what else competed for the cores."""
    top = subprocess.run(
        ["ps", "-eo", "pcpu,rss,args", "--sort=-pcpu"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()[1:6]
    return {"load_1m": os.getloadavg()[0], "top": [" ".join(t.split())[:120] for t in top]}


def last_run(home: Path) -> dict[str, Any]:
    """Stages and seconds of the run the last command recorded (ops.runs)."""
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        run_id, flow = con.execute(
            "select run_id, flow_name from ops.runs where stage = 'run' "
            "order by started_at desc limit 1"
        ).fetchone()
        rows = con.execute(
            "select stage, status, datediff('millisecond', started_at, ended_at) / 1000.0 "
            "from ops.runs where run_id = $r order by started_at",
            {"r": run_id},
        ).fetchall()
    stages = {stage: seconds for stage, _, seconds in rows}
    return {"run_id": run_id, "flow": flow, "seconds": stages.pop("run", None), "stages": stages}


def command(label: str, args: list[str], env: dict[str, str], cap: Cap, log: Path) -> dict:
    """One `segments ...` command under the cap; its record, with what it wrote in ops.runs."""
    result = run([SEGMENTS, *args], cap, env=env)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:
        handle.write(f"\n===== {label}: segments {' '.join(args)}\n{result['stdout']}")
        handle.write(result["stderr"])
    record = {"step": label, "command": "segments " + " ".join(args), **result}
    record.pop("stdout"), record.pop("stderr")
    if result["returncode"] != 0:
        tail = (result["stderr"] or result["stdout"]).strip().splitlines()[-3:]
        raise RuntimeError(f"{label} failed (exit {result['returncode']}): {' | '.join(tail)}")
    record.update(last_run(Path(env["SEGMENTS_HOME"])))
    return record


def baseline(name: str, files: list[str], env: dict[str, str], cap: Cap) -> dict[str, Any]:
    result = run([sys.executable, "-m", "bench.baselines", name, *files], cap, env=env)
    if result["returncode"] != 0:
        return {"step": name, "failed": result["stderr"].strip().splitlines()[-1:]}
    report = json.loads(result["stdout"].strip().splitlines()[-1])
    return {"step": name, **result, **report, "stdout": None, "stderr": None}


# the stages whose per-customer work is mapped over the buckets
BUCKET_STAGES = ("features", "validate_features", "score", "validate_segments")


def bucket_costs(home: Path, run_id: str) -> dict[str, Any]:
    """Per stage of a bucketed run: split / buckets / gather seconds and each bucket's own."""
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select stage, details from ops.runs where run_id = $r "
            "and list_contains($stages, stage) and status = 'completed'",
            {"r": run_id, "stages": list(BUCKET_STAGES)},
        ).fetchall()
    costs = {}
    for stage, details in rows:
        parsed = json.loads(details or "{}")
        seconds = [b["seconds"] for b in parsed.get("buckets", [])]
        costs[stage] = {**parsed.get("seconds", {}), "bucket_seconds": seconds}
    return costs


def scale_out(as_of: str, args: argparse.Namespace, env: dict, cap: Cap, log: Path) -> list:
    """The last night's run again: in one process (the same-run baseline), then with
    --partitions buckets on each --workers count of a LocalCluster (bench/README.md)."""
    run_cmd = ["run", "--as-of", as_of, "--retrain", "never"]
    steps = [{**command("rerun, one process", run_cmd, env, cap, log), "phase": "scale-out"}]
    for workers in args.workers:
        env_w = {
            **env,
            "SEGMENTS_PARTITIONS": str(args.partitions),
            "SEGMENTS_DASK_WORKERS": str(workers),
        }
        for round_ in range(1, args.rounds + 1):
            # round 1 on a fresh bucket lake builds every bucket's state; later rounds resume
            label = f"rerun, {args.partitions} buckets on {workers} worker(s)"
            label += f", round {round_}" if args.rounds > 1 else ""
            step = command(label, run_cmd, env_w, cap, log)
            costs = bucket_costs(Path(env["SEGMENTS_HOME"]), step["run_id"])
            steps.append(
                {**step, "phase": "scale-out", "workers": workers, "partitions": args.partitions,
                 "round": round_, "buckets": costs}
            )  # fmt: skip
    return steps


def bench_size(lines: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every row of one size's table."""
    root = Path(args.workdir or WORK)
    data: BenchData = prepare(lines, args.seed, root, args.nights)
    workdir = root / f"nightly-{lines}"
    if not args.scale_out_only:
        shutil.rmtree(workdir, ignore_errors=True)
    home = workdir / "home"
    local_env = environment(home, workdir, args.code)
    log = workdir / "commands.log"
    limit = args.memory_cap if args.memory_cap is not None else (
        "4G" if lines >= CAP_FROM_LINES else None
    )  # fmt: skip
    out: dict[str, Any] = {
        "lines": lines,
        "customers": data.customers,
        "load_before": machine_load(),
    }
    steps: list[dict[str, Any]] = []
    out["steps"] = steps
    with memory_cap(limit) as cap, ExitStack() as stack:
        out["memory_cap"] = cap.describe
        out["code"] = str(args.code)
        try:
            env = local_env
            if args.api_port:
                server = stack.enter_context(
                    prefect_server(args.api_port, local_env, workdir / "prefect-server.log")
                )
                out["prefect_server"] = server
                env = {**local_env, "PREFECT_API_URL": server["url"]}
                env["PREFECT_UI_API_URL"] = server["url"]
            if args.scale_out_only:  # the kept home of an earlier --keep run: reruns only
                if not home.is_dir():
                    raise RuntimeError(f"--scale-out-only needs the kept home {home}")
                steps += scale_out(data.nights[-1].as_of, args, env, cap, log)
            else:
                if not args.skip_baselines:
                    steps.append(baseline("floor_parquet", data.transaction_files, env, cap))
                    steps.append(baseline("pandas_parquet", data.transaction_files, env, cap))
                cold = [
                    ("ingest customers", ["ingest", "demo_customers", data.customers_csv]),
                    ("ingest events", ["ingest", "demo_events", data.history_events]),
                    ("ingest transactions", ["ingest", "demo_transactions", data.history_transactions]),
                    ("first run (trains)", ["run", "--as-of", data.history_as_of, "--retrain", "always"]),
                ]  # fmt: skip
                for label, cmd in cold:
                    steps.append({**command(label, cmd, env, cap, log), "phase": "cold"})
                for number, night in enumerate(data.nights, start=1):
                    phase = f"night {number}"
                    files = [("demo_transactions", t) for t in night.transactions]
                    for source, path in [*files, ("demo_events", night.events)]:
                        rows = night_lines(path)
                        if not rows:  # a tiny history can have a night without events
                            continue
                        label = f"{phase}: ingest {Path(path).name}"
                        step = command(label, ["ingest", source, path], env, cap, log)
                        steps.append({**step, "phase": phase, "rows": rows})
                    run_cmd = ["run", "--as-of", night.as_of, "--retrain", "never"]
                    temporary = args.api_port and number == len(data.nights)
                    label = f"{phase}: run" + (" (temporary server)" if temporary else "")
                    if temporary:  # stop the server first: the temporary one reuses its database
                        stack.close()
                    night_env = local_env if temporary else env
                    step = command(label, run_cmd, night_env, cap, log)
                    steps.append({**step, "phase": phase, "prefect": "temporary" if (
                        temporary or not args.api_port) else "server"})  # fmt: skip
                # the baseline of a night's features: the same layer recomputed from all of staging
                rebuild = ["rebuild", "--as-of", data.nights[-1].as_of]
                steps.append(
                    {**command("full rebuild", rebuild, env, cap, log), "phase": "rebuild"}
                )
                if args.workers:
                    steps += scale_out(data.nights[-1].as_of, args, env, cap, log)
        except RuntimeError as exc:
            out["failed"] = f"{exc} (log: {log})"
    out["history_lines"] = data.history_lines
    out["load_after"] = machine_load()
    if not (args.keep or args.scale_out_only) and "failed" not in out:
        shutil.rmtree(home, ignore_errors=True)
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.nightly", description=__doc__)
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--nights", type=int, default=2, help="nights after the history (>= 2)")
    parser.add_argument(
        "--memory-cap", help="cap every command (e.g. 4G); default 4G from 100M lines, else none"
    )
    parser.add_argument("--workdir", type=Path, help="where homes and logs go (bench/work/)")
    parser.add_argument("--keep", action="store_true", help="keep each size's SEGMENTS_HOME")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="*",
        default=[],
        help="also rerun the last night with customer buckets on a Dask LocalCluster of each "
        "worker count (e.g. --workers 1 2), beside a one-process rerun",
    )
    parser.add_argument("--partitions", type=int, default=8, help="buckets for --workers")
    parser.add_argument(
        "--scale-out-only",
        action="store_true",
        help="only the scale-out reruns, on the home an earlier --keep run left in --workdir",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="bucketed reruns per worker count (2: the "
        "second resumes from the buckets' incremental state)"
    )  # fmt: skip
    parser.add_argument(
        "--api-port",
        type=int,
        help="start a long-lived `prefect server` on 127.0.0.1:PORT for the commands (the "
        "last night's run still uses the temporary server, for comparison)",
    )
    parser.add_argument(
        "--code",
        type=Path,
        default=PROJECT,
        help="checkout whose segments the commands run (a same-session baseline, e.g. main)",
    )
    args = parser.parse_args(argv)
    if args.nights < 2:
        parser.error("--nights must be at least 2 (night 2 re-lands night 1's corrected file)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    for lines in args.lines:
        print(f"[bench] {lines:,} lines ...", file=sys.stderr, flush=True)
        result = bench_size(lines, args)
        stem = args.results_dir / f"nightly_{lines}"
        stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        text = render_size(result)
        stem.with_suffix(".md").write_text(text)
        print(text, flush=True)
    summaries = [
        json.loads(path.read_text()) for path in sorted(args.results_dir.glob("nightly_*.json"))
    ]
    summary = render_summary(summaries)
    (args.results_dir / "nightly.md").write_text(summary)
    print(summary)


if __name__ == "__main__":
    main()
