"""Turn the step records of one bench run into a markdown table, goal checks and a JSON file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = ("duckdb", "scikit-learn", "pandas", "numpy", "great-expectations", "prefect")
FEATURES_VS_FLOOR_GOAL = 2.0  # issue: at 10M lines, SQL features <= 2x the floor
VALIDATION_VS_FEATURES_GOAL = 1.0  # issue: validating staging costs no more than the features


def machine_info() -> dict[str, Any]:
    """Enough to tell whether two result files are comparable."""
    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    for package in PACKAGES:
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = None
    info["git"] = _git_state()
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        info["cpu_model"] = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpu.splitlines()
                if line.startswith("model name")
            ),
            None,
        )
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gb"] = round(int(mem) / 1024**2, 1)
    except (OSError, IndexError, ValueError):
        pass
    return info


def _git_state() -> str | None:
    """Commit of the code measured, '+dirty' when the working tree differs from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty.strip() else "")


def _seconds(records: list[dict[str, Any]], name: str, key: str = "seconds") -> float | None:
    record = next((r for r in records if r["name"] == name), None)
    return record.get(key) if record and record.get("status") == "ok" else None


def _sum(records: list[dict[str, Any]], prefix: str, key: str = "seconds") -> float | None:
    chosen = [r for r in records if r["name"].startswith(prefix)]
    if not chosen or any(r.get("status") != "ok" for r in chosen):
        return None
    return sum(r.get(key) or 0.0 for r in chosen)


def _div(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def _ratio(value: float | None, floor: float | None) -> str:
    return f"{value / floor:.1f}x" if value is not None and floor else "-"


def summary_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Totals added below the steps: the nightly run without generation, validation alone."""
    run = [
        r
        for r in records
        if r["kind"] in ("pipeline", "optional", "validation") and r["name"] != "generate"
    ]
    if not {"ingest", "publish"} <= {r["name"] for r in run} or any(
        r.get("status") not in ("ok", "n/a (not built)") for r in run
    ):
        return []
    run = [r for r in run if r.get("status") == "ok"]
    return [
        {
            "name": "nightly total (ingest -> publish)",
            "kind": "total",
            "status": "ok",
            "seconds": sum(r["seconds"] for r in run),
            "cpu_seconds": sum(r.get("cpu_seconds") or 0.0 for r in run),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in run),
            "rows": None,
            "note": "sum of the steps above; peak = largest step",
        }
    ]


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets: measured ratio (wall, and CPU for context) and whether it holds."""
    checks = [
        (
            "features / floor (CSV)",
            ("one", "features"),
            ("one", "floor_csv"),
            FEATURES_VS_FLOOR_GOAL,
            (
                "SQL features at most 2x the bare DuckDB floor (goal stated for 10M lines); the "
                "floor as the foundation issue defines it: one query that reads the lines once and "
                "aggregates per customer"
            ),
        ),
        (
            "features / floor_staged",
            ("one", "features"),
            ("one", "floor_staged"),
            None,
            (
                "informative, stricter: the same aggregate over rows already staged in DuckDB; "
                "features also count distinct products per customer and read 0.6 events per line"
            ),
        ),
        (
            "validate_staging (3 suites) / features",
            ("one", "validate_staging"),
            ("one", "features"),
            VALIDATION_VS_FEATURES_GOAL,
            "validating staging costs no more than computing the features",
        ),
        (
            "validate_features / features",
            ("sum", "validate_features/"),
            ("one", "features"),
            None,
            "informative: the same bar for the feature suite",
        ),
        (
            "nightly total / pandas notebook",
            ("total", ""),
            ("one", "pandas_notebook"),
            None,
            (
                "informative: the pipeline also ingests, quarantines, validates, selects a "
                "model and publishes"
            ),
        ),
    ]
    out = []
    for label, top, bottom, goal, why in checks:
        ratio, cpu = (
            _div(_value(records, *top, key), _value(records, *bottom, key))
            for key in ("seconds", "cpu_seconds")
        )
        met = None if ratio is None or goal is None else ratio <= goal
        out.append(
            {
                "check": label,
                "ratio": ratio,
                "cpu_ratio": cpu,
                "goal": goal,
                "met": met,
                "why": why,
            }
        )
    return out


def _value(records: list[dict[str, Any]], how: str, name: str, key: str) -> float | None:
    if how == "sum":
        return _sum(records, name, key)
    if how == "total":
        return next((r.get(key) for r in summary_rows(records)), None)
    return _seconds(records, name, key)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cpu(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else ""


def _mb(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else ""


def markdown(records: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The table people read: one row per step, sub-rows for its parts, then totals and goals."""
    floor_csv = _seconds(records, "floor_csv")
    floor_staged = _seconds(records, "floor_staged")
    machine = meta["machine"]
    lines = [
        f"# Bench: {meta['lines']:,} transaction lines",
        "",
        (
            f"{machine.get('date')} | {machine.get('cpu_count')} CPUs "
            f"({machine.get('cpu_model') or 'unknown CPU'}) | Python {machine.get('python')} | "
            f"DuckDB {machine.get('duckdb')} | scikit-learn {machine.get('scikit-learn')} | "
            f"pandas {machine.get('pandas')} | seed {meta['seed']} | as_of {meta['as_of']} | "
            f"code {machine.get('git') or 'unknown'}"
        ),
        "",
        _row(
            [
                "stage",
                "seconds",
                "CPU s",
                "peak RSS MB",
                "rows",
                "x floor (CSV)",
                "x floor (staged)",
                "notes",
            ]
        ),
        _row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---"]),
    ]
    for record in [*records, *summary_rows(records)]:
        status = record.get("status", "ok")
        if status != "ok":
            lines.append(
                _row([record["name"], status, "", "", "", "", "", record.get("note", "")])
            )
            continue
        seconds = record["seconds"]
        rows = record.get("rows")
        lines.append(
            _row(
                [
                    f"**{record['name']}**"
                    if record["kind"] in ("baseline", "total")
                    else record["name"],
                    f"{seconds:.2f}",
                    _cpu(record.get("cpu_seconds")),
                    _mb(record.get("peak_rss_mb")),
                    f"{rows:,}" if isinstance(rows, int) else "",
                    _ratio(seconds, floor_csv),
                    _ratio(seconds, floor_staged),
                    record.get("note", ""),
                ]
            )
        )
        for part, part_seconds in (record.get("parts") or {}).items():
            lines.append(
                _row(
                    [
                        f"&nbsp;&nbsp;↳ {part}",
                        f"{part_seconds:.2f}",
                        "",
                        "",
                        "",
                        _ratio(part_seconds, floor_csv),
                        _ratio(part_seconds, floor_staged),
                        "",
                    ]
                )
            )
    lines += [
        "",
        "## Goals",
        "",
        _row(["check", "ratio (wall)", "ratio (CPU)", "goal", "met", "why"]),
        _row(["---", "---:", "---:", "---:", "---", "---"]),
    ]
    for goal in goals(records):
        ratio = f"{goal['ratio']:.2f}" if goal["ratio"] is not None else "n/a"
        cpu = f"{goal['cpu_ratio']:.2f}" if goal["cpu_ratio"] is not None else "n/a"
        met = {None: "-", True: "yes", False: "**no**"}[goal["met"]]
        bound = f"<= {goal['goal']:g}" if goal["goal"] is not None else "-"
        lines.append(_row([goal["check"], ratio, cpu, bound, met, goal["why"]]))
    lines += ["", "## Notes", ""] + [f"- {note}" for note in meta["notes"]]
    return "\n".join(lines) + "\n"


def payload(records: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """Everything in the markdown, machine-readable."""
    return {**meta, "steps": records, "totals": summary_rows(records), "goals": goals(records)}


def rerender(json_path: Path) -> Path:
    """Rewrite the markdown beside a results JSON (after a change to this module)."""
    data = json.loads(Path(json_path).read_text())
    meta = {key: data[key] for key in ("lines", "seed", "as_of", "machine", "notes")}
    meta["customers"] = data.get("customers")
    out = Path(json_path).with_suffix(".md")
    out.write_text(markdown(data["steps"], meta))
    Path(json_path).write_text(json.dumps(payload(data["steps"], meta), indent=2) + "\n")
    return out


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(rerender(Path(argument)))
