"""Prepare the warehouse as a task, so a flow shows it and retries it."""

from __future__ import annotations

from prefect import task

from segments.core.warehouse import prepare_warehouse
from segments.settings import Settings


@task(name="prepare_warehouse", retries=2, retry_delay_seconds=[2, 10])
def prepare_warehouse_task(settings: Settings) -> None:
    """Retried: opening the file can meet a lock held by a reader closing."""
    prepare_warehouse(settings)
