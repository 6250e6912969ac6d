"""Keep segment ids (and names) stable across retrains, so dashboards and CRM tags survive."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score


@dataclass
class SegmentMatch:
    """New cluster label -> stable segment id, plus how much the assignment moved."""

    mapping: dict[int, int]  # new label -> segment id
    matched: dict[int, int] = field(default_factory=dict)  # new label -> inherited old id
    new_ids: list[int] = field(default_factory=list)  # ids minted for unmatched clusters
    retired_ids: list[int] = field(default_factory=list)  # old ids no new cluster inherited
    ari: float | None = None  # previous vs new assignment on common customers
    common_customers: int = 0

    def apply(self, labels: np.ndarray) -> np.ndarray:
        """Translate new cluster labels into stable segment ids."""
        return np.array([self.mapping[int(v)] for v in labels], dtype=int)


def member_centroids(
    transform: Callable[[pd.DataFrame], np.ndarray], features: pd.DataFrame, segment_ids: Sequence
) -> dict[int, np.ndarray]:
    """Previous segments' centroids in a new model's space: pass new_model.transform."""
    X = np.asarray(transform(features), dtype=float)
    ids = np.asarray(segment_ids, dtype=int)
    return {int(s): X[ids == s].mean(axis=0) for s in np.unique(ids)}


def _assign(score: np.ndarray, threshold: float, higher_is_better: bool) -> dict[int, int]:
    """Hungarian assignment on a score matrix (rows new, cols old), dropping weak pairs."""
    rows, cols = linear_sum_assignment(score, maximize=higher_is_better)
    ok = score[rows, cols] >= threshold if higher_is_better else score[rows, cols] <= threshold
    return {int(r): int(c) for r, c, good in zip(rows, cols, ok, strict=True) if good}


def _finish(
    new_labels: Sequence[int], old_ids: Sequence[int], pairs: dict[int, int]
) -> SegmentMatch:
    """Matched labels inherit old ids; the rest get fresh ids above the largest old id."""
    labels = sorted({int(v) for v in new_labels})
    matched = {labels[r]: int(old_ids[c]) for r, c in pairs.items()}
    next_id = max([int(i) for i in old_ids], default=-1) + 1
    mapping, minted = dict(matched), []
    for label in labels:
        if label not in mapping:
            mapping[label] = next_id
            minted.append(next_id)
            next_id += 1
    retired = sorted(set(map(int, old_ids)) - set(matched.values()))
    return SegmentMatch(dict(sorted(mapping.items())), matched, minted, retired)


def match_segments(
    new_labels: np.ndarray,
    *,
    customer_ids: Sequence[Any] | None = None,
    previous: Mapping[Any, int] | pd.Series | None = None,
    prev_centroids: Mapping[int, np.ndarray] | None = None,
    new_centroids: np.ndarray | None = None,
    min_jaccard: float = 0.2,
    max_distance: float | None = None,
) -> SegmentMatch:
    """Match new clusters to previous segments by member overlap (preferred) or by centroid.

    Overlap: pass customer_ids (aligned with new_labels) and previous (customer_id -> segment
    id). Pairs are chosen by the Hungarian method on Jaccard overlap of common customers; a
    pair below min_jaccard is not matched. Centroid: pass prev_centroids (segment id -> vector)
    and new_centroids (row = new label), both in the SAME transformed space (e.g. the previous
    members re-transformed by the new model's preprocessor); pairs farther than max_distance
    are not matched. With neither, new labels become ids as they are (first run).
    """
    new_labels = np.asarray(new_labels, dtype=int)
    labels = sorted({int(v) for v in new_labels})
    if previous is not None and customer_ids is not None:
        prev = pd.Series(previous) if not isinstance(previous, pd.Series) else previous
        now = pd.Series(new_labels, index=pd.Index(customer_ids))
        common = now.index.intersection(prev.index)
        old_ids = sorted({int(v) for v in prev.to_numpy()})
        if len(common) == 0 or not old_ids:
            return _finish(labels, old_ids, {})
        a, b = now.loc[common].to_numpy(), prev.loc[common].to_numpy().astype(int)
        inter = pd.crosstab(a, b).reindex(index=labels, columns=old_ids, fill_value=0).to_numpy()
        union = inter.sum(1, keepdims=True) + inter.sum(0, keepdims=True) - inter
        jaccard = np.divide(inter, union, out=np.zeros(inter.shape), where=union > 0)
        result = _finish(labels, old_ids, _assign(jaccard, min_jaccard, True))
        result.ari = float(adjusted_rand_score(b, a))
        result.common_customers = len(common)
        return result
    if prev_centroids is not None and new_centroids is not None:
        old_ids = sorted(int(i) for i in prev_centroids)
        old = np.vstack([np.asarray(prev_centroids[i], dtype=float) for i in old_ids])
        new = np.asarray(new_centroids, dtype=float)[labels]
        dist = np.sqrt(((new[:, None, :] - old[None, :, :]) ** 2).sum(axis=2))
        limit = np.inf if max_distance is None else max_distance
        return _finish(labels, old_ids, _assign(dist, limit, False))
    return SegmentMatch({label: label for label in labels}, new_ids=list(labels))


def inherit_names(
    match: SegmentMatch, previous_names: Mapping[int, str], new_names: Mapping[int, str]
) -> dict[int, str]:
    """Segment id -> name: matched segments keep their old name, new ones get a unique name.

    new_names is keyed by new cluster label; a clash with a kept name gets " (new)" appended.
    """
    names: dict[int, str] = {}
    for label, seg_id in match.mapping.items():
        if label in match.matched and seg_id in previous_names:
            names[seg_id] = previous_names[seg_id]
    for label, seg_id in match.mapping.items():
        if seg_id in names:
            continue
        name, n = new_names.get(label, f"Segment {seg_id}"), 2
        base = name
        while name in names.values():
            name = f"{base} (new)" if n == 2 else f"{base} (new {n - 1})"
            n += 1
        names[seg_id] = name
    return dict(sorted(names.items()))
