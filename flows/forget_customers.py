"""Forget customers: erase them everywhere under SEGMENTS_HOME and keep them out of loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from flows.context import flow_run_context
from flows.hooks import record_failure
from flows.params import ForgetParams
from segments.privacy import read_ids
from tasks.privacy import forget_customers_task


@flow(
    name="forget_customers",
    log_prints=True,
    on_failure=[record_failure],
    on_crashed=[record_failure],
    flow_run_name="forget",  # never the ids
)
def forget_customers(params: ForgetParams) -> dict[str, Any]:
    """Erase the customers (the run row records how many, never which)."""
    raw_ids = read_ids(params.customer_ids, Path(params.ids_file) if params.ids_file else None)
    with flow_run_context(params={"customers": len(raw_ids)}) as (ctx, summary):
        summary.update(forget_customers_task(ctx, raw_ids))
    return summary


if __name__ == "__main__":
    import sys

    forget_customers(ForgetParams(customer_ids=sys.argv[1:]))
