"""Prepare the warehouse as a task, so a flow shows it and retries it."""

from __future__ import annotations

from prefect import task

from segments.core.warehouse import prepare_warehouse
from segments.publish import recover_published
from segments.settings import Settings
from tasks.retry import transient_only


def prepare_and_recover(settings: Settings) -> None:
    """Every run's preamble: schema and migrations, then finish or undo a killed publish."""
    prepare_warehouse(settings)
    recover_published(settings)


@task(
    name="prepare_warehouse",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=transient_only,
)
def prepare_warehouse_task(settings: Settings) -> None:
    """Retried: opening the file can meet a reader that is closing it."""
    prepare_and_recover(settings)
