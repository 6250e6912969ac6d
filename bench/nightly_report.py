"""Markdown of the nightly benchmark: one table per size, and the goals across sizes."""

from __future__ import annotations

from typing import Any

SCALING_SIZES = (1_000_000, 10_000_000, 30_000_000)


def _num(value: Any, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _step(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next((s for s in result["steps"] if s["step"] == name), {})


def phase_seconds(result: dict[str, Any], phase: str, key: str = "seconds") -> float | None:
    steps = [s for s in result["steps"] if s.get("phase") == phase]
    if not steps or any(s.get(key) is None for s in steps):
        return None
    return sum(s[key] for s in steps)


def _stage(result: dict[str, Any], step: str, stage: str) -> float | None:
    return (_step(result, step).get("stages") or {}).get(stage)


def goals(result: dict[str, Any]) -> list[tuple[str, float | None, str, bool | None, str]]:
    """(check, measured, goal, met, what it is) from one size's rows."""
    floor = _step(result, "floor_parquet").get("seconds")
    peer = _step(result, "pandas_parquet").get("seconds")
    first_load = _step(result, "ingest transactions").get("seconds")
    cold = phase_seconds(result, "cold")
    night = phase_seconds(result, "night 1")
    train = _stage(result, "first run (trains)", "train")
    report = _stage(result, "night 1: run", "report")
    validate = _stage(result, "night 1: run", "validate_staging")
    features = _stage(result, "night 1: run", "features")
    rebuild = _stage(result, "full rebuild", "rebuild")
    peak = max((s.get("peak_rss_mb") or 0 for s in result["steps"]), default=None)
    # wall of a night (ingest + run, as the user waits): against the bench's long-lived server
    # (--api-port), and the night run with Prefect's temporary server
    night_runs = [s for s in result["steps"] if s.get("prefect") and "night" in s["phase"]]
    served = next((s["phase"] for s in night_runs if s["prefect"] == "server"), None)
    temporary = next((s["phase"] for s in night_runs if s["prefect"] == "temporary"), None)
    served_wall = phase_seconds(result, served, "wall_seconds") if served else None
    temporary_wall = phase_seconds(result, temporary, "wall_seconds") if temporary else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    rows = [
        ("night 1 increment: ingest + run (s)", night, "<= 10 at 10M", None,
         "work recorded in ops.runs; the CLI's start-up is in the wall column"),
        (f"{served or 'night'} increment wall, long-lived server (s)", served_wall, "<= 10 at 10M", None,
         "ingest + run as waited for, `segments run` against the bench's `prefect server`"),
        (f"{temporary or 'night'} increment wall, temporary server (s)", temporary_wall, "", None,
         "the same with no PREFECT_API_URL: `segments run` starts Prefect's temporary server"),
        ("first load / floor", ratio(first_load, floor), "<= 6", None,
         "`segments ingest` of the history's transactions against one DuckDB read + group by"),
        ("cold pipeline / peer notebook", ratio(cold, peer), "<= 0.5 (stretch 0.3)", None,
         "ingest of customers, events, transactions + the first run with training"),
        ("training (s)", train, "<= 10", None, "train stage of the first run"),
        ("report (s)", report, "<= 3", None, "report stage of night 1"),
        ("validate_staging / features", ratio(validate, features), "<= 1", None, "night 1"),
        ("night 1 features / full rebuild", ratio(features, rebuild), "< 1", None,
         "features stage of night 1 against `segments rebuild` (all aggregates from staging)"),
        ("full rebuild / floor", ratio(rebuild, floor), "", None,
         "`segments rebuild` against one DuckDB read + group by"),
        ("peak RSS (MB)", peak, "<= 2048", None, "largest process of any step"),
    ]  # fmt: skip
    limits: list[float | None] = [10.0, 10.0, None, 6.0, 0.5, 10.0, 3.0, 1.0, 1.0, None, 2048.0]
    return [
        (check, value, goal, None if value is None or limit is None else value <= limit, why)
        for (check, value, goal, _, why), limit in zip(rows, limits, strict=True)
    ]


def render_size(result: dict[str, Any]) -> str:
    floor = _step(result, "floor_parquet").get("seconds")
    lines = [
        (
            f"## {result['lines']:,} lines ({result['customers']:,} customers; history "
            f"{result['history_lines']:,} lines; {result.get('memory_cap', 'no memory cap')})"
        ),
        "",
        "| step | seconds | wall | CPU s | peak RSS MB | rows | x floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for step in result["steps"]:
        if step.get("failed"):
            lines.append(f"| {step['step']} | failed: {step['failed']} | | | | | |")
            continue
        seconds = step.get("seconds")
        x = f"{seconds / floor:.1f}x" if seconds is not None and floor else ""
        lines.append(
            f"| {step['step']} | {_num(seconds)} | {_num(step.get('wall_seconds'))} | "
            f"{_num(step.get('cpu_seconds'), 1)} | {_num(step.get('peak_rss_mb'), 0)} | "
            f"{_num(step.get('rows'), 0)} | {x} |"
        )
        for name, value in {**(step.get("parts") or {}), **(step.get("stages") or {})}.items():
            lines.append(f"| &nbsp;&nbsp;↳ {name} | {_num(value)} | | | | | |")
    for phase in (
        "cold",
        *sorted({s["phase"] for s in result["steps"] if "night" in s.get("phase", "")}),
    ):
        total = phase_seconds(result, phase)
        wall = phase_seconds(result, phase, "wall_seconds")
        label = (
            "cold pipeline (ingest + first run)" if phase == "cold" else f"{phase} (ingest + run)"
        )
        lines.append(f"| **{label}** | {_num(total)} | {_num(wall)} | | | | |")  # fmt: skip
    if result.get("failed"):
        lines += ["", f"**Failed:** {result['failed']}"]
    lines += ["", "| check | measured | goal | met | what |", "| --- | ---: | --- | --- | --- |"]
    for check, value, goal, met, why in goals(result):
        shown = "" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {check} | {_num(value)} | {goal} | {shown} | {why} |")
    lines += _scale_out(result)
    lines += ["", _load_note(result), ""]
    return "\n".join(lines)


def _scale_out(result: dict[str, Any]) -> list[str]:
    """Bucketed reruns: each stage's split / buckets / gather seconds and per-bucket cost."""
    runs = [s for s in result["steps"] if s.get("buckets")]
    if not runs:
        return []
    out = [
        "",
        "Scale-out (`--workers`): the last night rerun with customer buckets on a LocalCluster.",
        "",
        "| run | stage | split s | buckets s (mapped) | gather s | per bucket s (mean / max) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for step in runs:
        for stage, cost in step["buckets"].items():
            each = cost.get("bucket_seconds") or []
            mean = sum(each) / len(each) if each else None
            out.append(
                f"| {step['step']} | {stage} | {_num(cost.get('split'))} | "
                f"{_num(cost.get('buckets'))} | {_num(cost.get('gather'))} | "
                f"{_num(mean)} / {_num(max(each) if each else None)} |"
            )
    single = next((s for s in result["steps"] if s["step"] == "rerun, one process"), None)
    if single:  # the same stage in one process, measured in the same bench run
        out += ["", "| stage | one process s | " + " | ".join(s["step"] for s in runs) + " |"]
        out.append("| --- | ---: |" + " ---: |" * len(runs))
        for stage in runs[0]["buckets"]:
            cells = [_num(s.get("stages", {}).get(stage)) for s in runs]
            out.append(f"| {stage} | {_num(single['stages'].get(stage))} | {' | '.join(cells)} |")
    by_workers = {s["workers"]: s for s in runs}
    if 1 in by_workers and 2 in by_workers:
        for stage in runs[0]["buckets"]:
            one = by_workers[1]["buckets"].get(stage, {}).get("buckets")
            two = by_workers[2]["buckets"].get(stage, {}).get("buckets")
            if one and two:
                out.append(
                    f"\n{stage}: mapped buckets on 1 worker / on 2 workers = {one / two:.2f}"
                )
    return out


def _load_note(result: dict[str, Any]) -> str:
    before, after = result.get("load_before", {}), result.get("load_after", {})
    top = "; ".join(before.get("top", [])[:3])
    return (
        f"Load average (1 min, 2 cores shared with other work) {before.get('load_1m', 0):.1f} "
        f"at start, {after.get('load_1m', 0):.1f} at end. Busiest processes at start: {top}"
    )


def render_summary(results: list[dict[str, Any]]) -> str:
    results = sorted(results, key=lambda r: r["lines"])
    lines = [
        "# Nightly cost across history sizes (bench/nightly.py)",
        "",
        (
            "| lines | customers | night 1 (s) | night 2 (s) | cold pipeline (s) | peer (s) "
            "| floor (s) | cold / peer |"
        ),
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    increments = {}
    for r in results:
        peer = _step(r, "pandas_parquet").get("seconds")
        cold = phase_seconds(r, "cold")
        night1 = phase_seconds(r, "night 1")
        increments[r["lines"]] = night1
        lines.append(
            f"| {r['lines']:,} | {r['customers']:,} | {_num(night1)} | "
            f"{_num(phase_seconds(r, 'night 2'))} | {_num(cold)} | {_num(peer)} | "
            f"{_num(_step(r, 'floor_parquet').get('seconds'))} | "
            f"{_num(cold / peer if cold and peer else None)} |"
        )
    scaled = [increments[n] for n in SCALING_SIZES if increments.get(n)]
    lines.append("")
    if len(scaled) >= 2:
        spread = max(scaled) / min(scaled)
        sizes = ", ".join(f"{n:,}" for n in SCALING_SIZES if increments.get(n))
        lines.append(
            f"Night 1 increment at {sizes} lines of history: max / min = {spread:.2f} "
            f"(goal <= 1.5: {'met' if spread <= 1.5 else 'not met'})."
        )
    by_lines = {r["lines"]: phase_seconds(r, "cold") for r in results}
    if by_lines.get(100_000_000) and by_lines.get(10_000_000):
        factor = by_lines[100_000_000] / by_lines[10_000_000]
        lines.append(
            f"100M cold pipeline / 10M: {factor:.1f}x (goal <= 12x: "
            f"{'met' if factor <= 12 else 'not met'})."
        )
    return "\n".join(lines) + "\n"
