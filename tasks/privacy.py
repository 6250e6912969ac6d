"""Privacy task: erase customers everywhere under SEGMENTS_HOME."""

from __future__ import annotations

from typing import Any

from prefect import task

from segments.core.runs import RunContext
from segments.privacy import forget_customers


@task(name="forget_customers")  # not retried: what fails (a file it cannot fix) stays failed
def forget_customers_task(ctx: RunContext, raw_ids: list[str]) -> dict[str, Any]:
    """Erase these customers; the stage records counts, never an id."""
    with ctx.stage("forget") as details:
        details.update(forget_customers(ctx.settings, raw_ids, run_id=ctx.run_id))
    return details
