"""The fitted segmentation model: what scoring needs, saved as one joblib file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.pipeline import Pipeline

from segments.models.algorithms import nearest


def data_checksum(frame: pd.DataFrame, columns: list[str]) -> str:
    """sha256 of the feature matrix (column by column), to tie a model to its data.

    Numbers are hashed as float32: DuckDB's parallel sums differ in the last bits from one
    run to the next, and the same data must give the same checksum (and model version).
    """
    digest = hashlib.sha256()
    for col in columns:
        digest.update(col.encode() + b"\x00")
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.to_numpy(dtype="float64", na_value=np.nan).astype("float32")
            digest.update(np.ascontiguousarray(numbers).tobytes())
        else:
            digest.update("\x1f".join(map(str, values.tolist())).encode())
    return digest.hexdigest()


@dataclass
class SegmentModel:
    """Preprocessor + clusterer (or tree) + centroids; predict() gives a segment 0..k-1.

    metadata holds how it was chosen (reason, selection_mode), its recipe (so it can be
    refitted at a past cutoff to compare with a challenger) and, for trees, `rules`: the
    readable rule of each segment.
    """

    features: list[str]
    preprocessor: Pipeline
    algorithm: str
    params: dict[str, Any]
    centroids: np.ndarray  # (k, d) in transformed space; row i is segment i
    checksum: str
    estimator: Any | None = None  # fitted clusterer with .predict (kmeans, gmm)
    label_map: np.ndarray | None = None  # estimator label -> segment (-1 = not a segment)
    noise_share: float = 0.0
    seed: int = 42
    metadata: dict[str, Any] = field(default_factory=dict)
    sklearn_version: str = field(default_factory=lambda: sklearn.__version__)

    @property
    def k(self) -> int:
        """Number of segments."""
        return len(self.centroids)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Features -> the model's transformed space (the space centroids live in)."""
        missing = [c for c in self.features if c not in df.columns]
        if missing:
            raise KeyError(f"input lacks model features {missing}; rebuild features first")
        return np.asarray(self.preprocessor.transform(df[self.features]), dtype=float)

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Segment per row: the estimator's own predict, else the nearest training centroid."""
        X = self.transform(df)
        return self.predict_transformed(X)

    def predict_transformed(self, X: np.ndarray) -> np.ndarray:
        """Predict on already-transformed rows (noise and unseen labels -> nearest centroid).

        The estimator is a clusterer with .predict, or a tree whose predict gives leaves
        (segments.models.predictive.LeafAssigner); label_map turns its output into segments.
        """
        if self.estimator is None or self.label_map is None:
            return nearest(X, self.centroids)
        mapped = self.label_map[self.estimator.predict(X)].astype(int)
        unmapped = mapped < 0
        if unmapped.any():
            mapped[unmapped] = nearest(X[unmapped], self.centroids)
        return mapped

    def save(self, path: str | Path) -> Path:
        """Write the model with joblib (parent folders created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SegmentModel:
        """Read a model written by save(); refuses files holding anything else."""
        obj = joblib.load(Path(path))
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a SegmentModel")
        return obj
