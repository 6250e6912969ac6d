"""`make bench`: time every stage of the nightly run on generated data, beside two baselines.

    python -m bench.run --lines 1000000 [--workdir DIR] [--keep] [--seed 42] [--stages ...]

Each step runs in its own process against one SEGMENTS_HOME, in pipeline order, then the
DuckDB floor and the pandas notebook pipeline. The table is printed and written to
bench/results/bench_<lines>.md (+ .json). This process stays small (standard library only), so
nothing it imported is counted in a child's memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import machine_info, markdown, payload
from bench.stages import BASELINES, PIPELINE, BenchContext, Step, context_json, ingest_bench_step

PROJECT_DIR = Path(__file__).resolve().parents[1]
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
WORK_DIR = PROJECT_DIR / "bench" / "work"
# sklearn's OpenMP and OpenBLAS pools oversubscribe small machines (K-means ~8x slower with 2
# threads on 2 cores); every step gets one thread so the pipeline and pandas compare fairly.
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b")
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--lines", type=int, default=1_000_000, help="transaction lines to generate"
    )
    parser.add_argument(
        "--customers", type=int, help="customers to generate (default: about lines / 100)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--as-of", default="2026-01-01", help="features as of (demo data ends 2025-12-31)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where SEGMENTS_HOME goes (kept); default a temp dir under bench/work/, removed",
    )
    parser.add_argument("--keep", action="store_true", help="keep the default workdir")
    parser.add_argument(
        "--stages",
        nargs="+",
        metavar="NAME",
        help="only these steps (a name or its prefix: validate, floor, baselines)",
    )
    parser.add_argument(
        "--ingest-formats",
        nargs="+",
        metavar="FMT",
        help="also run bench/ingest_bench.py per format (csv.gz, parquet)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile every step into <workdir>/profile_*.txt (slower timings)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def select(steps: list[Step], wanted: list[str] | None) -> list[Step]:
    """Steps named (or prefixed) on the command line, in pipeline order."""
    if not wanted:
        return steps

    def chosen(step: Step) -> bool:
        return any(
            step.name == w
            or step.name.startswith(w)
            or (w == "baselines" and step.kind == "baseline")
            for w in wanted
        )

    picked = [step for step in steps if chosen(step)]
    if not picked:
        raise SystemExit(
            f"--stages {' '.join(wanted)} matches no step; steps are: "
            + ", ".join(step.name for step in steps)
        )
    return picked


def child_env(ctx: BenchContext) -> dict[str, str]:
    env = dict(os.environ)
    env.update(THREAD_ENV)
    env.update(
        {
            "SEGMENTS_HOME": ctx.home,
            "SEGMENTS_PII_KEY": os.environ.get("SEGMENTS_PII_KEY", "bench-key-not-secret"),
            "SEGMENTS_ENVIRONMENT": "demo",
            "PREFECT_HOME": str(Path(ctx.workdir) / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "false",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    return env


def unavailable(step: Step, stderr: str) -> str | None:
    """A step whose code is not written yet is 'n/a', not a failure of the run."""
    missing = "ModuleNotFoundError" in stderr or "ImportError" in stderr
    if missing and step.kind == "validation" and "quality" in stderr:
        return "n/a (not built)"
    if missing and step.kind == "optional":
        return "n/a (not built)"
    if missing and step.kind == "ingest_bench":
        return "n/a (bench/ingest_bench.py not built)"
    return None


def run_step(step: Step, ctx: BenchContext, env: dict[str, str]) -> dict[str, Any]:
    """One step in its own process; its record, or why it has none."""
    logs = Path(ctx.workdir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stem = step.name.replace("/", "_")
    out = logs / f"{stem}.json"
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.stages", step.name, context_json(ctx), str(out)],
        check=False,
        cwd=ctx.workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    (logs / f"{stem}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode == 0 and out.exists():
        return {**json.loads(out.read_text()), "status": "ok", "wall_seconds": wall}
    status = unavailable(step, proc.stderr)
    last = _error_line(proc.stderr)
    return {
        "name": step.name,
        "kind": step.kind,
        "status": status or "failed",
        "note": "" if status else f"{last} (log: {logs / stem}.log)",
        "wall_seconds": wall,
    }


def _error_line(stderr: str) -> str:
    """The exception line of a child's traceback (DuckDB errors end in a caret line)."""
    lines = stderr.strip().splitlines() or ["no output"]
    found = next((line for line in reversed(lines) if _EXCEPTION.match(line)), lines[-1])
    return found.strip()[:200]


def notes(args: argparse.Namespace, records: list[dict[str, Any]]) -> list[str]:
    pandas = next((r for r in records if r["name"] == "pandas_notebook"), {})
    return [
        (
            "Each step runs in its own process, in pipeline order, on one SEGMENTS_HOME. Seconds "
            "are the step's wall-clock work (imports done before the clock starts; `wall_seconds` "
            "in the JSON adds process start-up); CPU s is user + system time of all its threads. "
            "Peak RSS is that process's high-water mark (VmHWM), imported libraries included "
            "(`rss_after_imports_mb` in the JSON)."
        ),
        (
            "OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1 in every step, pipeline and "
            "pandas alike: with 2 threads on a 2-core machine scikit-learn's OpenMP and OpenBLAS "
            "pools oversubscribe and K-means runs ~8x slower. DuckDB keeps its own pool (threads "
            "= SEGMENTS_THREADS or all cores; here "
            f"SEGMENTS_THREADS={os.environ.get('SEGMENTS_THREADS')})."
        ),
        (
            "floor_csv: `select customer_id, max(ts), count(distinct invoice), sum(qty*price) "
            "from read_csv(transactions.csv.gz) group by 1` in a fresh in-memory DuckDB (column "
            "types given, bad lines skipped). floor_staged: the same aggregate over "
            "staging.stg_transactions, a stricter floor that leaves out reading the CSV. Both are "
            "materialised as tables so no aggregate is optimised away."
        ),
        (
            "x floor = step seconds / floor seconds, both measured in this run (below 1x: "
            "cheaper than one bare aggregate over the lines)."
        ),
        (
            "pandas_notebook: pd.read_csv, coerce types, dropna, groupby RFM (lambda recency, "
            "nunique, sum), log1p + StandardScaler, KMeans k=2..10 (n_init=10, random_state=42) "
            f"+ silhouette_score; {pandas.get('note', 'not run')}."
        ),
        (
            "Validation steps call segments.quality.validate_suites once per stage, like the flow "
            "(one GX context, one Data Docs build into reports/<run_id>/data_docs). Importing "
            f"great_expectations ({_gx_import(records)}) is paid once per flow run, so it is "
            "left out of the rows."
        ),
        (
            "train: TrainConfig() defaults (K-means k=3..8, n_init=10, 5 bootstrap refits for "
            "stability, silhouette on a 10,000-row sample); first run, so no champion comparison."
        ),
        "Input files are warm in the page cache (generated just before).",
        (
            f"Load average (1 min) at start {args.load_before:.1f}, at end "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: other work on the machine "
            "inflates wall seconds; CPU s is less affected."
        ),
        *(
            ["Profiled run (--profile): timings include cProfile overhead."]
            if args.profile
            else []
        ),
        *([f"Partial run: --stages {' '.join(args.stages)}."] if args.stages else []),
    ]


def _gx_import(records: list[dict[str, Any]]) -> str:
    seconds = [
        r["import_seconds"]["great_expectations"]
        for r in records
        if "great_expectations" in (r.get("import_seconds") or {})
    ]
    return f"{min(seconds):.1f} s" if seconds else "not measured"


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    args.load_before = os.getloadavg()[0]
    owned = args.workdir is None
    workdir = (
        Path(tempfile.mkdtemp(prefix=f"{args.lines}-", dir=_mkdir(WORK_DIR)))
        if owned
        else _mkdir(args.workdir.resolve())
    )
    steps = select([*PIPELINE, *BASELINES], args.stages)
    steps += [ingest_bench_step(fmt) for fmt in args.ingest_formats or []]
    home = workdir / "home"
    if any(step.name == "generate" for step in steps) and home.exists():
        shutil.rmtree(home)  # a fresh warehouse: every load is new, numbers comparable
    ctx = BenchContext(
        home=str(home),
        workdir=str(workdir),
        lines=args.lines,
        customers=args.customers,
        seed=args.seed,
        as_of=args.as_of,
        run_id="bench",
        profile=args.profile,
    )
    env = child_env(ctx)
    records = []
    try:
        for step in steps:
            print(f"[bench] {step.name} ...", end=" ", file=sys.stderr, flush=True)
            record = run_step(step, ctx, env)
            records.append(record)
            shown = f"{record['seconds']:.2f}s" if record["status"] == "ok" else record["status"]
            print(
                shown,
                record.get("note", "") if record["status"] != "ok" else "",
                file=sys.stderr,
                flush=True,
            )
        meta = {
            "lines": args.lines,
            "customers": args.customers,
            "seed": args.seed,
            "as_of": args.as_of,
            "machine": machine_info(),
            "notes": notes(args, records),
        }
        stem = f"bench_{args.lines}" + ("_partial" if args.stages or args.profile else "")
        out = _mkdir(args.results_dir) / f"{stem}.md"
        text = markdown(records, meta)
        out.write_text(text)
        out.with_suffix(".json").write_text(
            json.dumps(payload(records, meta), indent=2, default=str) + "\n"
        )
        print(text)
        print(f"[bench] wrote {out} and {out.with_suffix('.json').name}", file=sys.stderr)
    finally:
        # a failed step's log is named in the table, so its workdir stays to be read
        failed = any(record.get("status") == "failed" for record in records)
        if owned and not args.keep and not failed:
            shutil.rmtree(workdir, ignore_errors=True)
        elif owned or args.keep:
            why = "a step failed, see its log" if failed and not args.keep else "--keep"
            print(f"[bench] kept {workdir} ({why})", file=sys.stderr)
    return out


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    main()
