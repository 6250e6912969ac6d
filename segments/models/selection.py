"""Choose one candidate by internal indices, when no out-of-time backtest is possible.

Used when the data cannot tell what segments' customers did next: a feature set without
transactions (demographics only), a history too short for a matured horizon, or
backtest_horizon_days = 0. Otherwise segments/models/backtest_select.py chooses.

Selection rule (applied to the candidates of one training run):

1. Gates. A candidate passes when all hold:
   - its number of segments k is in [k_min, k_max];
   - its smallest segment holds at least min_segment_share of customers;
   - its bootstrap stability (mean adjusted Rand index of refits on seeded subsamples)
     is at least min_stability (skipped when bootstrap_rounds = 0);
   - for density methods (DBSCAN, HDBSCAN) the noise share is at most max_noise_share;
   - it has at least two clusters, so quality scores are defined.
2. Family rule for Gaussian mixtures: only the GMM with the lowest BIC (among passing GMMs,
   else among all GMMs) competes with the other families.
3. Composite score within the pool (passing candidates, or all when none pass):
   mean of within-run percentile ranks of silhouette (higher better), Davies-Bouldin (lower
   better) and Calinski-Harabasz (higher better), values equal to 6 significant digits tying;
   plus knee_bonus when k is the WCSS elbow (Kneedle) of its algorithm (density methods: the
   run's elbow).
4. Highest composite wins; ties go to higher silhouette, then fewer segments, then grid order.

Quality scores use the published assignment: density-method noise joins the nearest
centroid, so labelling hard rows as noise cannot buy a better score. Silhouette alone is not
used: on RFM data it nearly always prefers the fewest clusters. When nothing passes the gates
the best-ranked candidate is still returned, flagged passed_gates=False, and the reason says
which gates failed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segments.models.config import TrainConfig

SELECTION_RULE = __doc__ or ""
DENSITY = frozenset({"dbscan", "hdbscan"})


@dataclass
class Selection:
    """The chosen candidate's row label, whether it passed the gates, and the reason."""

    index: int
    passed_gates: bool
    reason: str
    table: pd.DataFrame  # input plus gate_failures, passed_gates, eligible, score, chosen


def gate_failures(row: pd.Series, config: TrainConfig) -> list[str]:
    """Human-readable list of the gates a candidate fails (empty = passes)."""
    fails: list[str] = []
    if not np.isfinite(row["silhouette"]):
        fails.append("fewer than 2 clusters")
    if not config.k_min <= row["k"] <= config.k_max:
        fails.append(f"k={row['k']} outside [{config.k_min}, {config.k_max}]")
    if row["smallest_share"] < config.min_segment_share:
        fails.append(
            f"smallest segment {row['smallest_share']:.1%} < {config.min_segment_share:.1%}"
        )
    if np.isfinite(row["stability"]) and row["stability"] < config.min_stability:
        fails.append(f"stability {row['stability']:.2f} < {config.min_stability:.2f}")
    if row["algorithm"] in DENSITY and row["noise_share"] > config.max_noise_share:
        fails.append(f"noise {row['noise_share']:.1%} > {config.max_noise_share:.1%}")
    return fails


def _sig(values: pd.Series) -> pd.Series:
    """Round to 6 significant digits so float noise between equal partitions cannot rank."""
    return values.astype(float).map(lambda v: float(f"{v:.6g}"))


def _pct_rank(values: pd.Series, ascending: bool = True) -> pd.Series:
    """Percentile rank in (0, 1], best = 1; missing rank 0; 6 significant digits tie."""
    return _sig(values).rank(method="average", pct=True, ascending=ascending).fillna(0.0)


def _describe(row: pd.Series) -> str:
    """Short label for a candidate in the reason text."""
    return f"{row['algorithm']} k={int(row['k'])}"


def select(candidates: pd.DataFrame, config: TrainConfig) -> Selection:
    """Apply the selection rule (module docstring) and return the choice with its reason."""
    if candidates.empty:
        raise ValueError("no candidates to select from; check algorithms and k range")
    t = candidates.copy()
    t["gate_failures"] = ["; ".join(gate_failures(row, config)) for _, row in t.iterrows()]
    t["passed_gates"] = t["gate_failures"] == ""
    t["eligible"] = True
    gmm = t["algorithm"] == "gmm"
    if gmm.any():
        pool = t[gmm & t["passed_gates"]] if (gmm & t["passed_gates"]).any() else t[gmm]
        best_bic = pool["bic"].idxmin() if pool["bic"].notna().any() else pool.index[0]
        t.loc[gmm & (t.index != best_bic), "eligible"] = False
    defined = t["eligible"] & np.isfinite(t["silhouette"])
    passing = defined & t["passed_gates"]
    any_passed = bool(passing.any())
    pool_mask = passing if any_passed else (defined if defined.any() else t["eligible"])
    pool = t[pool_mask]

    quality = (
        _pct_rank(pool["silhouette"])
        + _pct_rank(pool["davies_bouldin"], ascending=False)
        + _pct_rank(pool["calinski_harabasz"])
    ) / 3.0
    score = quality + config.knee_bonus * pool["is_knee"].astype(float)
    t["score"] = np.nan
    t.loc[pool.index, "score"] = score
    sil = _sig(pool["silhouette"]).fillna(-np.inf)
    order = pool.assign(_score=score.round(9), _sil=sil, _pos=range(len(pool)))
    order = order.sort_values(
        ["_score", "_sil", "k", "_pos"], ascending=[False, False, True, True]
    )
    best = order.index[0]
    t["chosen"] = t.index == best
    return Selection(int(best), any_passed, _reason(t, order, best, any_passed, config), t)


def _reason(
    t: pd.DataFrame, order: pd.DataFrame, best: int, passed: bool, config: TrainConfig
) -> str:
    """Explain the choice: gates, metrics, knee and runner-up, in one paragraph."""
    row = t.loc[best]
    metrics = (
        f"silhouette {row['silhouette']:.3f}, Davies-Bouldin {row['davies_bouldin']:.3f}, "
        f"Calinski-Harabasz {row['calinski_harabasz']:.1f}, "
        f"smallest segment {row['smallest_share']:.1%}, stability {row['stability']:.2f}"
    )
    n_pass = int(t["passed_gates"].sum())
    if passed:
        head = (
            f"Chose {_describe(row)}: best composite score {row['score']:.3f} among {n_pass} of "
            f"{len(t)} candidates passing the gates (k in [{config.k_min}, {config.k_max}], "
            f"smallest segment >= {config.min_segment_share:.0%}, stability >= "
            f"{config.min_stability:.2f})"
        )
    else:
        head = (
            f"No candidate passed the gates; chose the best-ranked anyway, {_describe(row)} "
            f"(score {row['score']:.3f}), which fails: {row['gate_failures']}"
        )
    parts = [head, metrics]
    if row["is_knee"]:
        parts.append(f"k={int(row['k'])} is the WCSS elbow (+{config.knee_bonus:g})")
    if row["algorithm"] == "gmm":
        parts.append(f"lowest BIC among Gaussian mixtures ({row['bic']:.1f})")
    if len(order) > 1:
        runner = t.loc[order.index[1]]
        parts.append(f"runner-up {_describe(runner)} (score {runner['score']:.3f})")
    return "; ".join(parts) + "."
