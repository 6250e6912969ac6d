"""The training distribution saved with a model: what drift is measured against.

Right after a model is trained, its feature columns' bins and shares and the segment shares
of its training assignment are written beside the artifact as `<artifact>.reference.json`
(aggregates only: no customer id). Drift later compares today's features with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from segments.features import FEATURE_SETS, FeatureSet
from segments.monitor.psi import reference_of

REFERENCE_SUFFIX = ".reference.json"


def reference_path(artifact: Path | str) -> Path:
    """models/<version>.reference.json beside models/<version>.joblib."""
    return Path(artifact).with_suffix(REFERENCE_SUFFIX)


def feature_frame(con: duckdb.DuckDBPyConnection, feature_set: FeatureSet) -> pd.DataFrame:
    """Every customer of the feature set's relation as the model reads it (its columns plus
    the lifetime-value columns a model may segment on)."""
    from segments.lifecycle import load_features

    return load_features(con, feature_set)


def segment_ids(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The catalog segment id of every row, as scoring assigns it."""
    ids = model.metadata.get("segment_ids") or list(range(model.k))
    return np.asarray(ids)[model.predict(frame)]


def segment_shares(ids: np.ndarray) -> dict[str, float]:
    """Share of rows per segment id (keys as text: JSON object keys)."""
    values, counts = np.unique(ids, return_counts=True)
    return {str(int(v)): float(c / len(ids)) for v, c in zip(values, counts)}


def build_reference(model: Any, frame: pd.DataFrame, feature_set: str) -> dict[str, Any]:
    """The reference of one model on its training frame."""
    columns = FEATURE_SETS[feature_set].columns
    return {
        "feature_set": feature_set,
        "rows": len(frame),
        "features": {c: reference_of(frame[c]) for c in columns},
        "segments": segment_shares(segment_ids(model, frame)) if len(frame) else {},
    }


def save_reference(con: duckdb.DuckDBPyConnection, model_version: str) -> Path:
    """Write the reference of a just-trained model from the features it was trained on."""
    from segments.models import SegmentModel

    row = con.execute(
        "select artifact_path, feature_set from ops.model_registry where model_version = $v",
        {"v": model_version},
    ).fetchone()
    if row is None:
        raise ValueError(f"unknown model version {model_version!r}")
    artifact, feature_set = Path(row[0]), row[1]
    frame = feature_frame(con, FEATURE_SETS[feature_set])
    reference = {
        "model_version": model_version,
        **build_reference(SegmentModel.load(artifact), frame, feature_set),
    }
    target = reference_path(artifact)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(reference, indent=1, sort_keys=True))
    os.replace(tmp, target)
    return target


def load_reference(artifact: Path | str) -> dict[str, Any] | None:
    """The saved reference of a model, or None (a model trained before monitoring existed)."""
    path = reference_path(artifact)
    return json.loads(path.read_text()) if path.exists() else None
