"""The rows a training reads: every customer up to SEGMENTS_TRAIN_ROWS, above it a seeded
sample by a hash of customer_id (macro `training_draw`, warehouse/schema/01_macros.sql).

One rule for both paths: one process reads the warehouse table, a run on customer buckets
reads the buckets' Parquet of the same rows, and the sample is a function of each customer
alone (never of its bucket or of how many buckets there are), so both train on the same rows
and fit the same model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb


@dataclass(frozen=True)
class TrainingRows:
    """How many customers a training reads at most, the sample's seed, and where each model
    input relation's rows are (Parquet files of the buckets; none: the warehouse table)."""

    max_rows: int
    seed: int
    files: Mapping[str, list[str]] = field(default_factory=dict)

    def source(self, relation: str) -> tuple[str, dict[str, object]]:
        """A FROM item for the relation's rows, and its parameters."""
        files = self.files.get(relation)
        if not files:
            return relation, {}
        return "read_parquet($files, hive_partitioning = false)", {"files": list(files)}

    def where(
        self, con: duckdb.DuckDBPyConnection, relation: str
    ) -> tuple[str, dict[str, object]]:
        """A WHERE clause keeping the sample ('' when every row fits), and its parameters."""
        source, params = self.source(relation)
        total = con.execute(f"select count(*) from {source}", params).fetchone()[0]
        if total <= self.max_rows:
            return "", {}
        return (
            "where training_draw(customer_id, $sample_seed) < $sample_share",
            {"sample_seed": self.seed, "sample_share": self.max_rows / total},
        )
