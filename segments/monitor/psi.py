"""Population stability index: how far today's distribution of a value moved from a reference.

PSI = sum over bins of (a - e) * ln(a / e), with e the reference share and a today's share of
a bin. Numeric values are binned at the reference's deciles (ties collapse, so a count
with many 1s gets fewer, wider bins), categorical values by category (unseen ones share an
`other` bin), and missing values have a bin of their own: a feature going missing is drift
too. Shares are floored at EPSILON so an empty bin gives a large, finite PSI. Conventional
reading: < 0.1 stable, 0.1-0.25 worth watching, > 0.25 a real shift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

EPSILON = 1e-4
QUANTILES = np.linspace(0.1, 0.9, 9)
OTHER = "__other__"


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors over the same bins (each sums to 1)."""
    e = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def reference_of(values: pd.Series) -> dict[str, Any]:
    """The bins and shares of one column at training time (JSON-ready)."""
    n = len(values)
    missing = values.isna()
    null_share = float(missing.sum() / n) if n else 0.0
    present = values[~missing]
    if _is_numeric(values):
        data = present.to_numpy(dtype=float)
        edges = np.unique(np.quantile(data, QUANTILES)) if len(data) else np.array([])
        counts = np.bincount(np.searchsorted(edges, data, side="left"), minlength=len(edges) + 1)
        return {
            "kind": "numeric",
            "edges": edges.tolist(),
            "shares": (counts / n).tolist() if n else [0.0] * (len(edges) + 1),
            "null_share": null_share,
        }
    shares = (present.astype(str).value_counts() / n).sort_index() if n else pd.Series()
    return {
        "kind": "categorical",
        "shares": {str(k): float(v) for k, v in shares.items()},
        "null_share": null_share,
    }


def shares_like(values: pd.Series, reference: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(reference shares, today's shares) over the reference's bins plus the missing bin."""
    n = len(values)
    missing = values.isna()
    present = values[~missing]
    if reference["kind"] == "numeric":
        edges = np.asarray(reference["edges"], dtype=float)
        data = pd.to_numeric(present, errors="coerce").to_numpy(dtype=float)
        counts = np.bincount(np.searchsorted(edges, data, side="left"), minlength=len(edges) + 1)
        expected = list(reference["shares"])
    else:
        known = list(reference["shares"])
        text = present.astype(str)
        counts = np.array([(text == k).sum() for k in known] + [(~text.isin(known)).sum()])
        expected = [reference["shares"][k] for k in known] + [0.0]
    actual = np.append(counts, missing.sum()) / max(n, 1)
    return np.append(expected, reference["null_share"]), actual


def share_psi(expected: dict[str, float], actual: dict[str, float]) -> float:
    """PSI of two labelled share maps (segment shares); a label missing on one side is 0."""
    labels = sorted(set(expected) | set(actual))
    return psi(
        np.array([expected.get(k, 0.0) for k in labels]),
        np.array([actual.get(k, 0.0) for k in labels]),
    )


def verdict(value: float, watch: float, act: float) -> str:
    """'stable', 'watch' or 'act' for one PSI against the two thresholds."""
    if value >= act:
        return "act"
    if value >= watch:
        return "watch"
    return "stable"
