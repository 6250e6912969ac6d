"""Flatten GX results into ops.dq_results rows: one row per expectation, readable as text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

COLUMNS = [
    "run_id",
    "stage",
    "suite",
    "relation",
    "expectation_type",
    "column_name",
    "kwargs",
    "severity",
    "success",
    "observed_value",
    "unexpected_count",
    "unexpected_percent",
    "element_count",
    "validated_at",
]
_MAX_TEXT = 500
_SAMPLE = 3


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _error(exception: dict[str, Any] | None) -> str | None:
    """GX reports an error either flat or keyed by the metric that raised it."""
    if not exception:
        return None
    infos = [exception] if "raised_exception" in exception else list(exception.values())
    for info in infos:
        if isinstance(info, dict) and (
            info.get("raised_exception") or info.get("exception_message")
        ):
            lines = (info.get("exception_message") or "").strip().splitlines()
            return lines[-1] if lines else "expectation raised"
    return None


def observed_text(result: dict[str, Any], exception: dict[str, Any] | None) -> str:
    """What the expectation saw, in words a person on call can act on."""
    error = _error(exception)
    if error:
        return _text(f"error: {error}")
    if "observed_value" in result:
        observed = result["observed_value"]
        rows = (result.get("details") or {}).get("unexpected_rows")
        if rows:
            sample = rows[:_SAMPLE] if isinstance(rows, list) else rows
            return _text(f"{observed} unexpected row(s), e.g. {json.dumps(sample, default=str)}")
        return _text(observed)
    if "unexpected_count" in result:
        count, total = result.get("unexpected_count"), result.get("element_count")
        percent = result.get("unexpected_percent") or 0.0
        text = f"{count} of {total} rows unexpected ({percent:.3g}%)"
        sample = (result.get("partial_unexpected_list") or [])[:_SAMPLE]
        return _text(f"{text}, e.g. {json.dumps(sample, default=str)}" if count else text)
    return ""


def _column(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    for key in ("column_list", "column_set"):
        if key in kwargs and isinstance(kwargs[key], list | tuple):
            return ",".join(map(str, kwargs[key]))
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    return None


def result_rows(
    suite_result: Any,
    *,
    run_id: str,
    stage: str,
    suite: str,
    relation: str,
    written: list[dict[str, Any]],
) -> pd.DataFrame:
    """One row per expectation, in the order the suite JSON lists them.

    `written` are the expectations as written in the JSON; GX's results carry the same
    meta, so severity comes from the JSON even if GX reorders its results.
    """
    validated_at = datetime.now(UTC).replace(tzinfo=None)
    by_number = {}
    for outcome in suite_result.results:
        config = outcome.expectation_config
        by_number[int(config.meta["number"])] = outcome
    rows = []
    for number, doc in enumerate(written, start=1):
        outcome = by_number[number]
        result = dict(outcome.result or {})
        kwargs = {
            k: v
            for k, v in outcome.expectation_config.kwargs.items()
            if k not in ("batch_id", "result_format")
        }
        rows.append(
            {
                "run_id": run_id,
                "stage": stage,
                "suite": suite,
                "relation": relation,
                "expectation_type": doc["type"],
                "column_name": _column(doc["kwargs"]),
                "kwargs": json.dumps(kwargs, default=str, sort_keys=True),
                "severity": doc["meta"]["severity"],
                "success": bool(outcome.success),
                "observed_value": observed_text(result, outcome.exception_info),
                "unexpected_count": result.get("unexpected_count"),
                "unexpected_percent": result.get("unexpected_percent"),
                "element_count": result.get("element_count"),
                "validated_at": validated_at,
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype(
        {
            "unexpected_count": "Int64",
            "element_count": "Int64",
            "unexpected_percent": "Float64",
            "success": "bool",
        }
    )


def write_results(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> None:
    """Append to ops.dq_results (created by segments.core.sql.apply_schema)."""
    try:
        con.register("_dq_results_batch", frame)
        con.execute("insert into ops.dq_results by name select * from _dq_results_batch")
    except duckdb.CatalogException as error:
        raise RuntimeError(
            "ops.dq_results is missing: run segments.core.sql.apply_schema(con, settings.sql_dir) "
            "before validating"
        ) from error
    finally:
        con.unregister("_dq_results_batch")
