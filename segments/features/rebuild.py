"""`segments rebuild` for the feature layer: the aggregates and features recomputed from
staging alone, and whether the incremental path had kept the aggregates equal to that."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from segments.core.errors import ConfigError
from segments.core.sql import incremental_models
from segments.features.build import build_feature_stage
from segments.settings import Settings


def table_checksum(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, int]:
    """(rows, order-free sum of row hashes): equal tables give equal checksums."""
    rows, total = con.execute(
        f"select count(*), coalesce(sum(hash(t)), 0) from {relation} as t"
    ).fetchone()
    return int(rows), int(total)


def latest_features_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The as_of of the features in the warehouse now (the last run's), if any."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'features' "
        "and table_name = 'customer_features'"
    ).fetchone()[0]
    if not exists:
        return None
    return con.execute("select max(as_of) from features.customer_features").fetchone()[0]


def rebuild_features(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None
) -> dict[str, Any]:
    """Rebuild every aggregate from staging, then the features as of `as_of` (default: the
    as_of they have now). Reports the aggregates the rebuild changed: none means the
    incremental path had them exactly right."""
    as_of = as_of or latest_features_as_of(con)
    if as_of is None:
        raise ConfigError(
            "no features to rebuild yet: pass --as-of YYYY-MM-DD (or run `segments run` first)"
        )
    relations = [f"features.{name}" for name in incremental_models(settings.sql_dir, "features")]
    before = {relation: table_checksum(con, relation) for relation in relations}
    stage = build_feature_stage(con, settings, as_of, full_refresh=True)
    after = {relation: table_checksum(con, relation) for relation in relations}
    return {
        "as_of": as_of.isoformat(),
        **stage,
        "aggregates": {relation: after[relation][0] for relation in relations},
        "aggregates_changed": [r for r in relations if before[r] != after[r]],
    }
