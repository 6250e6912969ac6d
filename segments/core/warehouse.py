"""Prepare the warehouse: folders, schemas, bookkeeping and seed tables, idempotently."""

from __future__ import annotations

from segments.core.db import connect
from segments.core.migrations import migrate
from segments.core.sql import apply_schema
from segments.settings import Settings


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
        migrate(con)  # before the schema: `create table if not exists` never alters a table
        apply_schema(con, settings.sql_dir)
