"""Feature preprocessing as one fitted sklearn Pipeline, so scoring reuses training's bounds."""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted


def log1p_nonnegative(x: np.ndarray) -> np.ndarray:
    """Log-compress money/count features; negatives (net returns) clip to 0 first."""
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0.0, None))


class OutlierCapper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each column to bounds learned at fit, so a few whales cannot drag centroids."""

    def __init__(self, method: Literal["iqr", "zscore"] = "iqr", factor: float = 3.0) -> None:
        self.method = method
        self.factor = factor

    def fit(self, X: np.ndarray, y: object = None) -> OutlierCapper:
        """Learn per-column bounds: Q1-f*IQR..Q3+f*IQR, or mean+-f*std."""
        X = check_array(X, dtype=float)
        self.n_features_in_ = X.shape[1]
        if self.method == "iqr":
            q1, q3 = np.nanpercentile(X, [25, 75], axis=0)
            iqr = q3 - q1
            self.lower_, self.upper_ = q1 - self.factor * iqr, q3 + self.factor * iqr
        elif self.method == "zscore":
            mean, std = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
            self.lower_, self.upper_ = mean - self.factor * std, mean + self.factor * std
        else:
            raise ValueError(f"capping method must be 'iqr' or 'zscore', got {self.method!r}")
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Clip to the fitted bounds."""
        check_is_fitted(self, ["lower_", "upper_"])
        X = check_array(X, dtype=float)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got {X.shape[1]}")
        return np.clip(X, self.lower_, self.upper_)


def _numeric_steps(log: bool, capping: str) -> list[tuple[str, object]]:
    """Impute -> (log1p) -> (cap) -> scale, in that order so caps see the logged scale."""
    steps: list[tuple[str, object]] = [("impute", SimpleImputer(strategy="median"))]
    if log:
        steps.append(
            ("log1p", FunctionTransformer(log1p_nonnegative, feature_names_out="one-to-one"))
        )
    if capping != "none":
        steps.append(("cap", OutlierCapper(method=capping)))  # type: ignore[arg-type]
    steps.append(("scale", StandardScaler()))
    return steps


def build_preprocessor(
    numeric: list[str],
    skewed: list[str],
    categorical: list[str],
    capping: Literal["iqr", "zscore", "none"] = "iqr",
    pca_components: int | None = None,
    seed: int = 42,
) -> Pipeline:
    """Build the unfitted pipeline; skewed columns get log1p, the rest of numeric do not."""
    plain = [c for c in numeric if c not in skewed]
    parts: list[tuple[str, object, list[str]]] = []
    if plain:
        parts.append(("numeric", Pipeline(_numeric_steps(False, capping)), plain))
    if skewed:
        parts.append(("skewed", Pipeline(_numeric_steps(True, capping)), list(skewed)))
    if categorical:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        cat = Pipeline([("impute", SimpleImputer(strategy="most_frequent")), ("onehot", onehot)])
        parts.append(("categorical", cat, list(categorical)))
    if not parts:
        raise ValueError("no features: pass at least one numeric, skewed or categorical column")
    steps: list[tuple[str, object]] = [
        ("columns", ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=True))
    ]
    if pca_components:
        steps.append(("pca", PCA(n_components=pca_components, random_state=seed)))
    return Pipeline(steps)


def feature_columns(numeric: list[str], skewed: list[str], categorical: list[str]) -> list[str]:
    """Input columns the preprocessor reads, in a stable order without duplicates."""
    return list(dict.fromkeys([*numeric, *skewed, *categorical]))
