"""Scoring: every customer of the feature table gets a segment from the champion model (or,
for incremental scoring, only the customers a run touched: each row is scored on its own, so
a customer's segment is the same either way)."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from segments.core.errors import NothingToPublishError
from segments.features import FEATURE_SETS
from segments.lifecycle.registry import Champion, current_champion
from segments.lifecycle.train import load_features
from segments.models import SegmentModel


def score_customers(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    as_of: date,
    feature_set_name: str,
    threads: int = 1,
    touched_by: str | None = None,
) -> dict[str, Any]:
    """Assign every customer of the feature table a segment with the champion model; with
    `touched_by` (a run id), only that run's customers of ops.touched_customers."""
    champion = current_champion(con)
    if champion is None:
        raise NothingToPublishError("no champion model to score with; run with retrain=auto first")
    model = SegmentModel.load(champion.artifact_path)
    frame = load_features(con, FEATURE_SETS[champion.feature_set])
    if touched_by is not None:
        touched = con.execute(
            "select customer_id from ops.touched_customers where run_id = $r", {"r": touched_by}
        ).fetchall()
        frame = frame[frame["customer_id"].isin({c for (c,) in touched})].reset_index(drop=True)
    with threadpool_limits(threads):
        labels = model.predict(frame) if len(frame) else np.zeros(0, dtype=int)
    catalog = con.execute(
        "select segment_id, segment_name from ops.segment_catalog "
        "where model_version = $v order by segment_id",
        {"v": champion.model_version},
    ).df()
    ids = model.metadata.get("segment_ids") or list(range(model.k))
    scores = pd.DataFrame(
        {"customer_id": frame["customer_id"], "segment_id": np.asarray(ids)[labels]}
    )
    scores = scores.merge(catalog, on="segment_id", how="left")
    con.execute("delete from ops.scores where run_id = $r", {"r": run_id})
    con.register("_scores", scores)
    con.execute(
        "insert into ops.scores select $r, $as_of, customer_id, segment_id, "
        "segment_name, $v from _scores",
        {"r": run_id, "as_of": as_of, "v": champion.model_version},
    )
    con.unregister("_scores")
    sizes = scores["segment_name"].value_counts().sort_index().to_dict()
    return {
        "model_version": champion.model_version,
        # the champion's own feature set: a kept-back challenger may have used another
        "feature_set": champion.feature_set,
        "customers": len(scores),
        "segments": {str(k): int(v) for k, v in sizes.items()},
    }


def require_champion(con: duckdb.DuckDBPyConnection) -> Champion:
    """The champion incremental scoring uses (it never trains one)."""
    champion = current_champion(con)
    if champion is None:
        raise NothingToPublishError(
            "no champion model: score-recent never trains; run `segments run` first"
        )
    return champion
