"""A trained model's segment catalog: stable ids matched to the champion, names, actions."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from segments.models import (
    VALUE_COLUMNS,
    SegmentModel,
    inherit_names,
    match_segments,
    profile_segments,
)


def previous_assignment(con: duckdb.DuckDBPyConnection) -> pd.Series | None:
    """customer_id -> segment_id of the last publish, the reference ids must survive."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'marts' "
        "and table_name = 'customer_segments'"
    ).fetchone()[0]
    if not exists:
        return None
    frame = con.execute("select customer_id, segment_id from marts.customer_segments").df()
    return None if frame.empty else frame.set_index("customer_id")["segment_id"]


def build_catalog(
    con: duckdb.DuckDBPyConnection,
    model: SegmentModel,
    frame: pd.DataFrame,
    labels: np.ndarray,
    profile_features: list[str],
    currency: str | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Give each new cluster a stable id (overlap with the last publish) and a unique name.

    Sets model.metadata["segment_ids"] (cluster label -> segment id) so scoring uses them.
    """
    previous = previous_assignment(con)
    match = match_segments(labels, customer_ids=frame["customer_id"].to_numpy(), previous=previous)
    value = [c for c in VALUE_COLUMNS if c in frame and frame[c].notna().any()]
    profiles = profile_segments(
        frame,
        labels,
        features=list(dict.fromkeys([*profile_features, *value])),
        revenue_column="monetary" if "monetary" in frame else None,
        currency=currency,
    )
    summary = profiles.summary.set_index("segment_id")
    previous_names: dict[int, str] = {}
    if previous is not None:
        previous_names = dict(
            con.execute(
                "select distinct segment_id, segment_name from marts.customer_segments"
            ).fetchall()
        )
    names = inherit_names(match, previous_names, summary["name"].to_dict())
    model.metadata["segment_ids"] = [int(match.mapping[label]) for label in range(model.k)]
    rules = model.metadata.get("rules") or {}
    rows = []
    for label in range(model.k):
        seg_id = match.mapping[label]
        row = summary.loc[label] if label in summary.index else None
        rows.append(
            {
                "segment_id": int(seg_id),
                "segment_name": names[seg_id],
                "description": None if row is None else row["description"],
                "action": None if row is None else row["action"],
                "centroid": json.dumps([round(float(v), 6) for v in model.centroids[label]]),
                "rule": rules.get(label),
            }
        )
    identity: dict[str, Any] = {
        "mapping": {str(k): int(v) for k, v in match.mapping.items()},
        "new_ids": [int(i) for i in match.new_ids],
        "retired_ids": [int(i) for i in match.retired_ids],
        "ari_vs_previous": match.ari,
        "common_customers": match.common_customers,
    }
    return pd.DataFrame(rows), identity
