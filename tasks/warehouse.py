"""Prepare the warehouse as a task, so a flow shows it and retries it."""

from __future__ import annotations

from prefect import task

from segments.publish import prepare_and_recover
from segments.settings import Settings
from tasks.retry import transient_only


@task(
    name="prepare_warehouse",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=transient_only,
)
def prepare_warehouse_task(settings: Settings) -> None:
    """Retried: opening the file can meet a reader that is closing it."""
    prepare_and_recover(settings)
