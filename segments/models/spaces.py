"""What a candidate segments on: feature spaces (columns + transform) and the value columns.

Clustering is only as good as the space it measures distance in. Money and counts are
heavily skewed, so candidates cluster on log1p values or on mid-rank quantiles (a rank is
the same for any currency, price level or decade), and on the outputs of the lifetime-value
model (BG/NBD + Gamma-Gamma) as well as on raw RFM. Trees need no transform: they split on
raw values (days, orders, money), which keeps their rules readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

Transform = Literal["raw", "log", "rank", "clog"]
# clog: log1p, then each column clipped to its training [TAIL, 1 - TAIL] quantiles. The log
# keeps what a rank evens out (the few heavy buyers who nearly all come back, the long
# lapsed who rarely do), the clipping stops single outliers (a wholesaler) from taking a
# segment of their own that no segment gate would let through.
TAIL = 0.01
RFM_COLUMNS = ("recency_days", "frequency", "monetary")
# lifetime-value outputs at the features' as_of (segments.features.fit_clv): the chance the
# customer is still active, expected purchases over the CLV horizon and their expected value
VALUE_COLUMNS = ("p_alive", "expected_purchases", "expected_value")
# read from features.customer_clv (or a cutoff's fit_clv) to derive VALUE_COLUMNS
CLV_INPUTS = ("p_alive", "expected_purchases_horizon", "expected_avg_value")


def with_value_columns(frame: pd.DataFrame, clv: pd.DataFrame | None) -> pd.DataFrame:
    """frame plus VALUE_COLUMNS from a CLV fit of the same as_of (null where none).

    expected_value = expected purchases x expected spend per purchase; for a customer with
    one purchase (no repeat spend to shrink) the spend is that first order's value, so a
    big first order is told apart from a small one.
    """
    out = frame.drop(columns=[c for c in VALUE_COLUMNS if c in frame], errors="ignore")
    if clv is None or clv.empty:
        return out.assign(**{c: np.nan for c in VALUE_COLUMNS})
    keyed = clv.drop_duplicates("customer_id").set_index("customer_id")
    ids = out["customer_id"]
    p_alive = keyed["p_alive"].reindex(ids).to_numpy(dtype=float)
    purchases = keyed["expected_purchases_horizon"].reindex(ids).to_numpy(dtype=float)
    spend = keyed["expected_avg_value"].reindex(ids).to_numpy(dtype=float)
    if {"lt_frequency", "avg_order_value"} <= set(out.columns):
        repeat = out["lt_frequency"].to_numpy(dtype=float) > 0
        first = np.clip(out["avg_order_value"].to_numpy(dtype=float), 0.0, None)
        spend = np.where(repeat, spend, first)
    return out.assign(
        p_alive=p_alive, expected_purchases=purchases, expected_value=purchases * spend
    )


class SpaceTransformer(TransformerMixin, BaseEstimator):
    """Impute (training medians), then raw | log1p (negatives to 0) | mid-rank quantile, and
    standardise (except raw). Rank keeps the training values, so new rows are ranked
    against the population the model learnt on; ties share a rank, so a block of equal
    values can never be split by row order."""

    def __init__(self, kind: Transform = "rank") -> None:
        self.kind = kind

    def _matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        if isinstance(X, pd.DataFrame):  # nullable columns hold pd.NA: NaN for numpy
            M = X.to_numpy(dtype=float, na_value=np.nan, copy=True)
        else:
            M = np.array(X, dtype=float, copy=True)
        if self.kind in ("log", "clog"):
            M = np.log1p(np.clip(M, 0.0, None))
        return M

    def fit(self, X: pd.DataFrame | np.ndarray, y: object = None) -> SpaceTransformer:
        """Learn medians, the sorted training columns (rank) and the scale."""
        M = self._matrix(X)
        self.n_features_in_ = M.shape[1]
        med = np.nanmedian(M, axis=0) if len(M) else np.zeros(M.shape[1])
        self.median_ = np.where(np.isfinite(med), med, 0.0)
        M = np.where(np.isfinite(M), M, self.median_)
        if self.kind == "clog":
            self.bounds_ = np.quantile(M, [TAIL, 1 - TAIL], axis=0) if len(M) else None
            M = self._clip(M)
        if self.kind == "rank":
            self.n_fit_ = len(M)
            self.levels_ = []
            for j in range(M.shape[1]):  # distinct values and how many are <= each
                values, counts = np.unique(M[:, j], return_counts=True)
                self.levels_.append((values, np.cumsum(counts), counts))
            M = self._ranks(M)
        self.mean_ = M.mean(axis=0) if len(M) else np.zeros(M.shape[1])
        std = M.std(axis=0) if len(M) else np.ones(M.shape[1])
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def _clip(self, M: np.ndarray) -> np.ndarray:
        return M if self.bounds_ is None else np.clip(M, self.bounds_[0], self.bounds_[1])

    def _ranks(self, M: np.ndarray) -> np.ndarray:
        """Mid-rank share of the training values: (# below + # at or below) / 2n."""
        out = np.empty_like(M)
        n = max(self.n_fit_, 1)
        for j, (values, at_or_below, counts) in enumerate(self.levels_):
            i = np.searchsorted(values, M[:, j], "right")  # distinct values <= x
            le = np.where(i > 0, at_or_below[np.maximum(i - 1, 0)], 0)
            equal = (i > 0) & (values[np.maximum(i - 1, 0)] == M[:, j])
            lt = le - np.where(equal, counts[np.maximum(i - 1, 0)], 0)
            out[:, j] = (lt + le) / (2.0 * n)
        return out

    def transform(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Rows in the fitted space."""
        check_is_fitted(self, ["median_", "mean_"])
        M = self._matrix(X)
        if M.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got {M.shape[1]}")
        M = np.where(np.isfinite(M), M, self.median_)
        if self.kind == "raw":
            return M
        if self.kind == "rank":
            M = self._ranks(M)
        if self.kind == "clog":
            M = self._clip(M)
        return (M - self.mean_) / self.scale_


def usable(frame: pd.DataFrame, columns: Sequence[str]) -> bool:
    """All columns present and none entirely null: a space can be built on this frame."""
    return all(c in frame.columns and frame[c].notna().any() for c in columns)
