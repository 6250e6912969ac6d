"""Data-quality gates: run a JSON expectation suite against a warehouse relation.

Suites live in expectations/<suite>.json (GX 1.x ExpectationSuite shape plus our meta), so
adding or tuning a check is a JSON edit. Every result lands in ops.dq_results; the caller
decides whether to stop with `raise_on_critical`. See docs/data-quality.md.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from segments.core.errors import QualityGateError
from segments.quality.gx import SuiteRun, run_suites_gx
from segments.quality.params import gx_parameters, suite_parameters
from segments.quality.results import COLUMNS, result_rows, write_results

logger = logging.getLogger(__name__)
SEVERITIES = ("critical", "warning")
_RELATION = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_FAILURE_KEYS = (
    "suite",
    "relation",
    "expectation_type",
    "column_name",
    "observed_value",
    "unexpected_count",
    "severity",
)


class CriticalExpectationError(QualityGateError):
    """A critical expectation failed: the stage stops and nothing is published."""


@dataclass
class SuiteOutcome:
    """What one suite found; `success` means no critical failure (warnings never block)."""

    suite: str
    relation: str
    success: bool
    critical_failures: list[dict]
    warnings: list[dict]
    results: pd.DataFrame
    docs_path: Path | None
    seconds: float


def load_suite(expectations_dir: Path, suite_name: str) -> dict[str, Any]:
    """Read and check a suite file, so a typo fails loudly instead of skipping a check."""
    path = Path(expectations_dir) / f"{suite_name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no suite {suite_name!r}: expected {path}")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    problems = []
    if doc.get("name") != suite_name:
        problems.append(f'"name" must be {suite_name!r} (the file stem)')
    relation = (doc.get("meta") or {}).get("relation", "")
    if not _RELATION.match(relation):
        problems.append('"meta.relation" must be "schema.table" in lower_snake_case')
    if not doc.get("expectations"):
        problems.append('"expectations" must list at least one expectation')
    for number, expectation in enumerate(doc.get("expectations") or [], start=1):
        severity = (expectation.get("meta") or {}).get("severity")
        if severity not in SEVERITIES:
            problems.append(
                f"expectation #{number} ({expectation.get('type')}): "
                f'"meta.severity" must be one of {SEVERITIES}, got {severity!r}'
            )
        if not isinstance(expectation.get("kwargs"), dict):
            problems.append(f'expectation #{number}: "kwargs" must be an object')
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return doc


def narrowed(doc: dict[str, Any], keep: Callable[[dict[str, Any]], bool] | None) -> dict[str, Any]:
    """The suite with only the expectations `keep` accepts (all of them without `keep`)."""
    if keep is None:
        return doc
    return {**doc, "expectations": [e for e in doc["expectations"] if keep(e)]}


def applies(meta: dict[str, Any], params: dict[str, Any]) -> bool:
    """A suite listing `feature_sets` runs only for those (no transactions: no RFM checks)."""
    wanted = meta.get("feature_sets")
    return not wanted or params.get("feature_set") in (None, *wanted)


def _records(frame: pd.DataFrame, written: list[dict[str, Any]]) -> list[dict]:
    records = []
    for index, row in frame.iterrows():
        record = {key: row[key] for key in _FAILURE_KEYS}
        record["unexpected_count"] = (
            None if pd.isna(record["unexpected_count"]) else int(record["unexpected_count"])
        )
        record["why"] = written[index]["meta"].get("why", "")
        records.append(record)
    return records


def _skipped(suite_name: str, relation: str, params: dict[str, Any]) -> SuiteOutcome:
    logger.info(
        "suite %s skipped: feature_set %r is not in its meta.feature_sets",
        suite_name,
        params.get("feature_set"),
    )
    return empty_outcome(suite_name, relation)


def empty_outcome(suite_name: str, relation: str) -> SuiteOutcome:
    """A suite that checked nothing: no rows, nothing failed."""
    return SuiteOutcome(
        suite_name, relation, True, [], [], pd.DataFrame(columns=COLUMNS), None, 0.0
    )


def validate_suites(
    con: duckdb.DuckDBPyConnection,
    suite_names: list[str],
    *,
    expectations_dir: Path,
    run_id: str,
    stage: str,
    params: dict[str, Any],
    docs_dir: Path | None = None,
    db_path: Path | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    data_docs: str = "always",
) -> list[SuiteOutcome]:
    """Validate the relations the suites name, record every result, build Data Docs; never gates.

    Validation runs inside DuckDB (GX SQL datasource on a cursor of `con`), so nothing is
    copied out of the warehouse. The suites of a stage share one GX context and one Data Docs
    build, which are most of GX's fixed cost. `db_path` only labels the datasource in Data Docs;
    `data_docs` "on_failure" builds them only when an expectation failed (SEGMENTS_DATA_DOCS).
    `keep` narrows each suite to the expectations it accepts (the part of a suite that runs on
    each customer bucket, or the rest: segments/scale/checks.py); a suite left with none is
    not run and returns no rows.
    """
    docs = [narrowed(load_suite(expectations_dir, name), keep) for name in suite_names]
    runs = [
        SuiteRun(doc, parameters, gx_parameters(parameters))
        for doc in docs
        if applies(doc["meta"], params) and doc["expectations"]
        for parameters in [
            suite_parameters(con, doc["meta"], {"run_id": run_id, **params}, suite=doc["name"])
        ]
    ]
    validated, index = (
        run_suites_gx(
            con,
            runs,
            run_id=run_id,
            docs_dir=Path(docs_dir) if docs_dir is not None else None,
            db_path=db_path,
            data_docs=data_docs,
        )
        if runs
        else ([], None)
    )
    by_name = {run.doc["name"]: pair for run, pair in zip(runs, validated, strict=True)}
    runs_by_name = {r.doc["name"]: r for r in runs}
    outcomes = []
    for doc in docs:
        name, relation = doc["name"], doc["meta"]["relation"]
        if name not in by_name:
            outcomes.append(
                _skipped(name, relation, params)
                if doc["expectations"]
                else empty_outcome(name, relation)
            )
            continue
        suite_result, seconds = by_name[name]
        run = runs_by_name[name]
        frame = result_rows(
            suite_result,
            run_id=run_id,
            stage=stage,
            suite=name,
            relation=relation,
            written=doc["expectations"],
        )
        write_results(con, frame)
        failed = frame[~frame["success"]]
        if doc["meta"].get("incremental") and not (failed["severity"] == "critical").any():
            record_validated(
                con, name, run.parameters["new_load_ids"], run.parameters["new_load_rows"], run_id
            )
        outcomes.append(suite_outcome(doc, frame, docs_path=index, seconds=seconds))
    return outcomes


def suite_outcome(
    doc: dict[str, Any], frame: pd.DataFrame, *, docs_path: Path | None, seconds: float
) -> SuiteOutcome:
    """What a suite found, from its ops.dq_results rows (in the order its JSON lists them)."""
    failed = frame[~frame["success"]]
    return SuiteOutcome(
        suite=doc["name"],
        relation=doc["meta"]["relation"],
        success=not (failed["severity"] == "critical").any(),
        critical_failures=_records(failed[failed["severity"] == "critical"], doc["expectations"]),
        warnings=_records(failed[failed["severity"] == "warning"], doc["expectations"]),
        results=frame,
        docs_path=docs_path,
        seconds=seconds,
    )


def record_validated(
    con: duckdb.DuckDBPyConnection,
    suite: str,
    load_ids: list[str | None],
    counts: list[int],
    run_id: str,
) -> None:
    """The loads an incremental suite passed: later runs validate only the loads after them."""
    rows = [
        [suite, load_id, n, run_id]
        for load_id, n in zip(load_ids, counts, strict=True)
        if load_id is not None
    ]
    if rows:
        con.executemany(
            "insert into ops.validated_loads values (?, ?, ?, ?, now()::timestamp)", rows
        )


def validate_suite(con: duckdb.DuckDBPyConnection, suite_name: str, **kwargs: Any) -> SuiteOutcome:
    """One suite on its own (tests, one-off checks); the flow validates a stage's suites at once."""
    (outcome,) = validate_suites(con, [suite_name], **kwargs)
    return outcome


def describe(failure: dict[str, Any]) -> str:
    """One line naming suite, expectation (type + column) and what was observed."""
    name = failure.get("column_name")
    column = f"(column={name})" if isinstance(name, str) and name else "()"
    why = f" [why: {failure['why']}]" if failure.get("why") else ""
    return (
        f"{failure['suite']} ({failure['relation']}): {failure['expectation_type']}{column} "
        f"observed {failure['observed_value']}{why}"
    )


def raise_on_critical(outcomes: list[SuiteOutcome]) -> None:
    """Stop the stage if any critical expectation failed, naming each one."""
    failures = [failure for outcome in outcomes for failure in outcome.critical_failures]
    if not failures:
        return
    lines = "\n".join(f"  - {describe(failure)}" for failure in failures)
    raise CriticalExpectationError(
        f"{len(failures)} critical expectation(s) failed; nothing is published and the last "
        f"good segments stay served:\n{lines}\n"
        "Fix the data and rerun; if a rule is wrong, tune expectations/<suite>.json "
        "(see docs/data-quality.md). All results: ops.dq_results."
    )
