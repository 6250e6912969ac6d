"""The business facts of a run, one line per stage, through Prefect's run logger (so they show
in the flow run's logs in the UI as well as on the terminal): rows loaded, the model chosen
or kept, the segments published, where the report is."""

from __future__ import annotations

from typing import Any

from prefect.logging import get_run_logger


def fact(stage: str, details: Any) -> str | None:
    """One plain sentence for a stage's details (None when there is nothing to say)."""
    d = details if isinstance(details, dict) else {}
    if stage == "ingest":
        text = (
            f"ingest: {d.get('files_loaded', 0)} new file(s) loaded, "
            f"{d.get('rows_staged', 0):,} rows staged, {d.get('rows_quarantined', 0):,} "
            f"quarantined, {d.get('duplicates', 0):,} duplicates; "
            f"{d.get('files_skipped', 0)} already loaded, {d.get('files_failed', 0)} failed"
        )
        failures = d.get("failures") or []
        return text + "".join(f"\n  failed: {f}" for f in failures)
    if stage == "train":
        if not d.get("trained"):
            return f"model: champion kept ({d.get('retrain_reason')})"
        verdict = "promoted to champion" if d.get("promoted") else "kept back"
        chosen = d.get("recipe") or f"{d.get('algorithm')} k={d.get('k')}"
        return (
            f"model: trained {d.get('candidates')} candidates, chose {chosen} "
            f"({d.get('model_version')}), {verdict}: {d.get('promotion_reason')}"
        )
    if stage == "score":
        return f"score: {d.get('customers', 0):,} customers scored with {d.get('model_version')}"
    if stage == "publish":
        sizes = ", ".join(f"{name} {n:,}" for name, n in (d.get("segments") or {}).items())
        return (
            f"publish: {d.get('rows', 0):,} customers in {len(d.get('segments') or {})} "
            f"segments ({sizes}); model {d.get('model_version')}"
        )
    if stage == "report":
        return f"report: {details}"
    return None


def announce(stage: str, details: Any) -> Any:
    """Log a stage's fact on the run logger and hand its details back."""
    text = fact(stage, details)
    if text:
        get_run_logger().info(text)
    return details
