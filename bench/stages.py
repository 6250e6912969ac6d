"""The nightly run's stages as benchmark steps, and the child process that times one of them.

Each step runs in its own process (`python -m bench.stages NAME CONTEXT_JSON OUT_JSON`), so its
peak memory is that process's own high-water mark. Modules a step needs are imported before the
clock starts: the seconds are the stage's work, not Python start-up.
"""

from __future__ import annotations

import cProfile
import importlib
import io
import json
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench import baselines
from segments.quality import VALIDATION_STAGES

Parts = dict[str, float]
StageFn = Callable[["BenchContext", Parts], dict[str, Any]]


@dataclass(frozen=True)
class BenchContext:
    """What every step needs to find the run it belongs to."""

    home: str
    workdir: str
    lines: int
    customers: int | None = None  # None: follows from lines (about 100 lines per customer)
    seed: int = 42
    as_of: str = "2026-01-01"
    run_id: str = "bench"
    profile: bool = False

    @property
    def as_of_date(self) -> date:
        return date.fromisoformat(self.as_of)

    @property
    def transactions_csv(self) -> Path:
        landed = Path(self.home) / "landing" / "demo_transactions" / "transactions.csv.gz"
        loaded = landed.parent / "_processed" / landed.name  # where the ingest moves it
        return landed if landed.exists() or not loaded.exists() else loaded

    @property
    def warehouse(self) -> Path:
        return Path(self.home) / "warehouse.duckdb"

    def settings(self) -> Any:
        from segments.settings import Settings

        return Settings(home=Path(self.home), seed=self.seed)


@dataclass(frozen=True)
class Step:
    """One row of the table: a function, the modules it imports, and what kind of row it is."""

    name: str
    fn: StageFn
    modules: tuple[str, ...]
    kind: str = "pipeline"  # pipeline | optional | validation | baseline | ingest_bench


@contextmanager
def timed(parts: Parts, name: str) -> Iterator[None]:
    """Add the seconds of a block to `parts[name]` (sub-rows of a stage)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        parts[name] = parts.get(name, 0.0) + time.perf_counter() - started


@contextmanager
def warehouse(ctx: BenchContext) -> Iterator[Any]:
    from segments.core.db import connect

    with connect(ctx.settings()) as con:
        yield con


def generate(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    from segments.demo import generate_demo

    counts = generate_demo(
        Path(ctx.home) / "landing", customers=ctx.customers, lines=ctx.lines, seed=ctx.seed
    )
    return {
        "rows": counts["transaction_lines"],
        "note": f"{counts['customers']:,} customers, {counts['events']:,} events",
    }


def ingest(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    from segments.core.warehouse import prepare_warehouse
    from segments.ingest import ingest_landing, refresh_staging, summarise_loads

    settings = ctx.settings()
    with timed(parts, "prepare_warehouse"):
        prepare_warehouse(settings)
    with warehouse(ctx) as con:
        with timed(parts, "ingest_landing (3 files, raw + lake)"):
            loads = summarise_loads(ingest_landing(con, settings, ctx.run_id))
        with timed(parts, "refresh_staging (+ staging lake)"):
            staged = refresh_staging(con, settings)
    if loads["files_failed"]:
        raise RuntimeError(f"ingest failed: {loads['failures']}")
    return {
        "rows": loads["rows_read"],
        "note": f"{loads['rows_staged']:,} staged, {loads['rows_quarantined']} quarantined, "
        f"stg_transactions {staged.get('stg_transactions', 0):,}",
    }


def _validation(*suites: str) -> StageFn:
    """Validate suites as the flow's stage does (one GX context, Data Docs once); parts per suite."""

    def run(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
        from segments.quality import validate_suites

        settings = ctx.settings()
        params: dict[str, Any] = {"as_of": ctx.as_of_date, "date_floor": settings.date_floor}
        if "customer_segments" in suites:
            params["run_id"] = ctx.run_id
        started = time.perf_counter()
        with warehouse(ctx) as con:
            outcomes = validate_suites(
                con,
                list(suites),
                expectations_dir=settings.expectations_dir,
                run_id=ctx.run_id,
                stage="bench",
                params=params,
                docs_dir=settings.reports_dir / ctx.run_id / "data_docs",
                db_path=settings.warehouse_path,
            )
        total = time.perf_counter() - started
        if len(outcomes) > 1:
            for outcome in outcomes:
                parts[f"{outcome.suite} ({len(outcome.results)} expectations)"] = outcome.seconds
            parts["context, parameters, results, Data Docs"] = total - sum(
                outcome.seconds for outcome in outcomes
            )
        expectations = sum(len(outcome.results) for outcome in outcomes)
        failed = sum(len(outcome.critical_failures) for outcome in outcomes)
        warnings = sum(len(outcome.warnings) for outcome in outcomes)
        return {
            "rows": expectations,
            "note": f"{len(outcomes)} suite(s), {expectations} expectations, {failed} critical "
            f"failed, {warnings} warnings (+ Data Docs)",
        }

    return run


def features(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    from segments.features import build_features

    with warehouse(ctx) as con:
        counts = build_features(con, ctx.settings(), ctx.as_of_date)
    return {
        "rows": counts.get("customer_features", 0),
        "note": f"{len(counts)} SQL models + lake copy",
    }


def features_clv(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    """The feature task's second half: BG/NBD + Gamma-Gamma lifetime value (Python, scipy)."""
    from segments.features import fit_probabilistic_clv

    with warehouse(ctx) as con:
        result = fit_probabilistic_clv(con, ctx.settings(), ctx.as_of_date)
        rows = con.execute("select count(*) from features.customer_clv").fetchone()[0]
    return {
        "rows": rows,
        "note": "BG/NBD + Gamma-Gamma"
        if result.get("fitted")
        else f"not fitted: {result.get('reason')}",
    }


def train(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    from segments.lifecycle import train_challenger
    from segments.models import TrainConfig

    with warehouse(ctx) as con:
        result = train_challenger(
            con,
            ctx.settings(),
            run_id=ctx.run_id,
            as_of=ctx.as_of_date,
            feature_set_name="retail",
            config=TrainConfig(),
        )
        rows = con.execute("select count(*) from features.customer_features").fetchone()[0]
    return {
        "rows": rows,
        "note": f"{result['candidates']} candidates, chose {result['algorithm']} k={result['k']}"
        + "; CPU s "
        + ", ".join(f"{part} {t['cpu']}" for part, t in result["seconds"].items()),
    }


def score(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    from segments.lifecycle import score_customers

    with warehouse(ctx) as con:
        result = score_customers(
            con, run_id=ctx.run_id, as_of=ctx.as_of_date, feature_set_name="retail"
        )
    return {"rows": result["customers"], "note": f"{len(result['segments'])} segments"}


def candidate(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    from segments.publish import build_candidate

    with warehouse(ctx) as con:
        rows = build_candidate(con, ctx.settings(), run_id=ctx.run_id, as_of=ctx.as_of_date)
    return {"rows": rows, "note": "marts SQL into ops.customer_segments_candidate"}


def publish(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    from segments.publish import publish_segments

    with warehouse(ctx) as con:
        result = publish_segments(con, ctx.settings(), run_id=ctx.run_id, as_of=ctx.as_of_date)
    return {"rows": result["rows"], "note": "atomic swap + lake copy"}


# DuckDB imports pandas, numpy and pyarrow on the first query with Python parameters (~2.5 s
# here); the flow's process has them loaded already, so they are imported before the clock.
_DB = ("duckdb", "numpy", "pandas", "pyarrow", "segments.core.db", "segments.settings")
# GX is imported lazily by the first validation; the flow pays that once per run, so it is
# imported before the clock here and reported on its own (see the notes of the table).
_VALIDATE = (*_DB, "segments.quality.suites", "great_expectations")
PIPELINE: tuple[Step, ...] = (
    Step("generate", generate, ("segments.demo.generate",)),
    Step("ingest", ingest, (*_DB, "segments.ingest.landing", "segments.core.warehouse")),
    Step(
        "validate_staging",
        _validation(*VALIDATION_STAGES["validate_staging"]),
        _VALIDATE,
        "validation",
    ),
    Step("features", features, (*_DB, "segments.features.build")),
    Step(
        "features_clv",
        features_clv,
        (*_DB, "segments.features.build", "scipy.optimize"),
        "optional",
    ),
    Step(
        "validate_features/customer_features",
        _validation(*VALIDATION_STAGES["validate_features"]),
        _VALIDATE,
        "validation",
    ),
    Step("train", train, (*_DB, "segments.lifecycle.train", "sklearn.cluster")),
    Step("score", score, (*_DB, "segments.lifecycle.score")),
    Step("candidate", candidate, (*_DB, "segments.publish.marts")),
    Step(
        "validate_segments/customer_segments",
        _validation(*VALIDATION_STAGES["validate_segments"]),
        _VALIDATE,
        "validation",
    ),
    Step("publish", publish, (*_DB, "segments.publish.marts")),
)
BASELINES: tuple[Step, ...] = (
    Step("floor_csv", baselines.floor_csv, ("duckdb",), "baseline"),
    Step("floor_staged", baselines.floor_staged, ("duckdb",), "baseline"),
    Step("pandas_notebook", baselines.pandas_notebook, baselines.PANDAS_MODULES, "baseline"),
)


def ingest_bench_step(fmt: str) -> Step:
    """A row for the ingestion benchmark of one format (bench/ingest_bench.py, optional)."""

    def run(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
        from bench.ingest_bench import bench_ingest

        workdir = Path(ctx.workdir) / f"ingest_{fmt.replace('.', '_')}"
        result = bench_ingest(ctx.lines, fmt, workdir)
        # bench_ingest times its own ingest process (file generation excluded): report its
        # seconds and peak, not this wrapper's
        return {
            "seconds": result["seconds"],
            "cpu_seconds": None,
            "peak_rss_mb": result["peak_rss_mb"],
            "rows": result.get("rows_read", ctx.lines),
            "note": f"{result.get('lines_per_second', 0):,} lines/s, "
            f"memory_limit {result.get('memory_limit')}, {result.get('status')}, "
            f"{result.get('rows_staged', 0):,} staged (bench/ingest_bench.py)",
        }

    return Step(f"ingest_bench/{fmt}", run, ("bench.ingest_bench",), "ingest_bench")


def find_step(name: str) -> Step:
    for step in (*PIPELINE, *BASELINES):
        if step.name == name:
            return step
    if name.startswith("ingest_bench/"):
        return ingest_bench_step(name.split("/", 1)[1])
    raise KeyError(f"unknown bench step {name!r}")


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: the current image only, not the forking parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024**2


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads (DuckDB's pool included)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(name: str, ctx: BenchContext, out: Path) -> None:
    """Import what the step needs, then time it and write seconds, memory and rows as JSON."""
    step = find_step(name)
    imports: Parts = {}
    for module in step.modules:
        with timed(imports, module):
            importlib.import_module(module)
    rss_before = peak_rss_mb()
    parts: Parts = {}
    profiler = cProfile.Profile() if ctx.profile else None
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = step.fn(ctx, parts)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    record = {
        "name": name,
        "kind": step.kind,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds() - cpu_before,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_imports_mb": rss_before,
        "import_seconds": imports,
        "parts": parts,
        **result,
    }
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
        path = Path(ctx.workdir) / f"profile_{name.replace('/', '_')}.txt"
        path.write_text(text.getvalue())
        record["profile"] = str(path)
    out.write_text(json.dumps(record, default=str))


def main(argv: list[str]) -> None:
    name, ctx_json, out = argv
    run_child(name, BenchContext(**json.loads(ctx_json)), Path(out))


def context_json(ctx: BenchContext) -> str:
    return json.dumps(asdict(ctx))


if __name__ == "__main__":
    main(sys.argv[1:])
