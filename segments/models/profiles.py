"""Per-segment profiles: sizes, revenue share, feature stats, names, descriptions, actions."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from segments.models.naming import (
    fmt_value,
    humanize,
    name_segment,
    name_violations,
    unique_names,
)

log = logging.getLogger(__name__)


@dataclass
class Profiles:
    """summary: one row per segment; features: one row per (segment, feature)."""

    summary: pd.DataFrame
    features: pd.DataFrame


def rank_score(population: np.ndarray, value: float) -> float:
    """Normal score of value's mid-rank percentile in population: a z that skew cannot fool."""
    return _rank_score_sorted(np.sort(population[np.isfinite(population)]), value)


def _rank_score_sorted(values: np.ndarray, value: float) -> float:
    """rank_score on the population's finite values, sorted: two binary searches count the
    values below and equal, so every segment's median is ranked without a pass over them."""
    if not len(values) or not np.isfinite(value):
        return 0.0
    below = int(np.searchsorted(values, value, side="left"))
    equal = int(np.searchsorted(values, value, side="right")) - below
    pct = (below + 0.5 * equal) / len(values)
    pct = float(np.clip(pct, 0.5 / len(values), 1 - 0.5 / len(values)))
    return float(np.clip(norm.ppf(pct), -3.0, 3.0))


def feature_stats(df: pd.DataFrame, labels: np.ndarray, features: list[str]) -> pd.DataFrame:
    """Per segment and numeric feature: mean, median, z (mean vs population) and rank score."""
    numeric = [f for f in features if pd.api.types.is_numeric_dtype(df[f])]
    data = df[numeric].astype(float).assign(segment_id=np.asarray(labels, dtype=int))
    mean, median = data.groupby("segment_id").mean(), data.groupby("segment_id").median()
    pop_mean, pop_std, pop_median = (
        data[numeric].mean(),
        data[numeric].std(ddof=0),
        data[numeric].median(),
    )
    ranked = {f: np.sort(v[np.isfinite(v)]) for f in numeric for v in [data[f].to_numpy()]}
    rows = []
    for seg in mean.index:
        for f in numeric:
            std = pop_std[f]
            z = (mean.at[seg, f] - pop_mean[f]) / std if std > 0 else 0.0
            rows.append(
                {
                    "segment_id": int(seg),
                    "feature": f,
                    "mean": mean.at[seg, f],
                    "median": median.at[seg, f],
                    "population_mean": pop_mean[f],
                    "population_median": pop_median[f],
                    "population_std": std,
                    "z": float(z),
                    "rank_score": _rank_score_sorted(ranked[f], median.at[seg, f]),
                }
            )
    return pd.DataFrame(rows)


def _describe(
    share: float, revenue_share: float, stats: pd.DataFrame, currency: str | None = None
) -> str:
    """One line: share of customers (and revenue) and the three most distinctive medians."""
    head = f"{share:.0%} of customers"
    if np.isfinite(revenue_share):
        head += f" and {revenue_share:.0%} of revenue"
    top = stats.reindex(stats["rank_score"].abs().sort_values(ascending=False).index).head(3)
    bits = [
        f"median {humanize(r.feature)} {fmt_value(r.feature, r.median, currency)} "
        f"(all: {fmt_value(r.feature, r.population_median, currency)})"
        for r in top.itertuples()
        if abs(r.rank_score) > 0.1
    ]
    return head + (": " + "; ".join(bits) if bits else "; close to average on every feature")


def profile_segments(
    df: pd.DataFrame,
    labels: np.ndarray,
    *,
    features: list[str] | None = None,
    revenue_column: str | None = "monetary",
    top_n: int = 3,
    currency: str | None = None,
) -> Profiles:
    """Profile and name each segment; names are unique within the model."""
    labels = np.asarray(labels, dtype=int)
    if len(labels) != len(df):
        raise ValueError(f"{len(labels)} labels for {len(df)} rows; pass one label per row")
    features = features or [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    stats = feature_stats(df, labels, features)
    segs, sizes = np.unique(labels, return_counts=True)
    revenue = None
    if revenue_column and revenue_column in df.columns:
        revenue = pd.Series(df[revenue_column].to_numpy(dtype=float)).groupby(labels).sum()
    total_revenue = float(revenue.sum()) if revenue is not None else np.nan
    z_by_seg = {  # names use rank scores: robust to the skew of money and count features
        int(s): dict(zip(g["feature"], g["rank_score"], strict=True))
        for s, g in stats.groupby("segment_id")
    }
    medians = {
        int(s): dict(zip(g["feature"], g["median"], strict=True))
        for s, g in stats.groupby("segment_id")
    }
    raw = {
        int(s): name_segment(
            z_by_seg.get(int(s), {}),
            bool(medians.get(int(s), {}).get("monetary", 1.0) <= 0),
            medians.get(int(s)),
        )
        for s in segs
    }
    names = unique_names(
        {s: n for s, (n, _) in raw.items()}, dict(zip(segs.tolist(), sizes.tolist())), z_by_seg
    )
    population = stats.drop_duplicates("feature").set_index("feature")["population_median"]
    for seg, name in names.items():  # a name must be true in its own numbers
        for problem in name_violations(name, medians.get(seg, {}), population.to_dict()):
            log.warning("segment name contradicts its profile: %s", problem)
    rows = []
    for seg, size in zip(segs.tolist(), sizes.tolist(), strict=True):
        seg_stats = stats[stats["segment_id"] == seg]
        share = size / len(labels)
        rev = (
            float(revenue[seg]) / total_revenue
            if revenue is not None and total_revenue > 0
            else np.nan
        )
        top = seg_stats.reindex(seg_stats["z"].abs().sort_values(ascending=False).index)
        rows.append(
            {
                "segment_id": seg,
                "name": names[seg],
                "size": int(size),
                "share": share,
                "revenue_share": rev,
                "action": raw[seg][1],
                "description": _describe(share, rev, seg_stats, currency),
                "top_features": ", ".join(
                    f"{r.feature} {r.z:+.1f}σ" for r in top.head(top_n).itertuples()
                ),
            }
        )
    return Profiles(pd.DataFrame(rows), stats)
