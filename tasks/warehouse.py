"""Prepare the warehouse: schemas, bookkeeping tables and seed tables, idempotently."""

from __future__ import annotations

from prefect import task

from segments.db import connect
from segments.settings import Settings
from segments.sql import apply_schema


def prepare_warehouse(settings: Settings) -> None:
    """Create what is missing; never drops data."""
    for folder in (
        settings.landing_dir,
        settings.lake_dir,
        settings.reports_dir,
        settings.exports_dir,
        settings.models_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    with connect(settings) as con:
        apply_schema(con, settings.sql_dir)


@task(name="prepare_warehouse", retries=2, retry_delay_seconds=[2, 10])
def prepare_warehouse_task(settings: Settings) -> None:
    """Retried: opening the file can meet a lock held by a reader closing."""
    prepare_warehouse(settings)
