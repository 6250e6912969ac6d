"""What readers are served now, read from serving.duckdb: the source of truth for a publish.

The warehouse marts follow the serving file (a publish swaps the serving file, then commits
the marts; the next run reconciles a publish killed in between), so "what is served" is
always answered from here, never from the warehouse, and works while a run holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from segments.core.db import connect_path
from segments.core.errors import BusyError
from segments.settings import Settings


@dataclass(frozen=True)
class Served:
    """The latest publish in serving.duckdb."""

    as_of: date
    run_id: str
    model_version: str
    customers: int
    published_at: datetime


def served_publish(settings: Settings) -> Served | None:
    """The publish readers see now, or None when nothing was ever published."""
    if not settings.serving_path.exists():
        return None
    try:
        con = connect_path(settings.serving_path, read_only=True, busy_wait_s=1.0)
    except (duckdb.Error, BusyError):
        return None
    try:
        row = con.execute(
            "select as_of, run_id, model_version, customers, published_at from publishes "
            "order by as_of desc limit 1"
        ).fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    return Served(*row) if row else None
