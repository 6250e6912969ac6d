"""Whether a challenger replaces the champion: gates, quality on current data, backtest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segments.lifecycle.backtest import Backtest, backtest_rows
from segments.lifecycle.registry import Champion
from segments.models import SegmentModel


def quality_on(
    model: SegmentModel, frame: pd.DataFrame, seed: int, sample: int = 10_000
) -> dict[str, float]:
    """Silhouette and Davies-Bouldin of a model's assignment of these rows, in its own space."""
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    X = model.transform(frame)
    labels = model.predict(frame)
    if len(np.unique(labels)) < 2:
        return {"silhouette": -1.0, "davies_bouldin": float("inf")}
    size = min(sample, len(X))
    return {
        "silhouette": float(silhouette_score(X, labels, sample_size=size, random_state=seed)),
        "davies_bouldin": float(davies_bouldin_score(X, labels)),
    }


def backtest_record(
    test: Backtest | str,
    model: SegmentModel,
    catalog: pd.DataFrame,
    champion: dict[str, Any] | None,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The registry JSON and the ops.backtests rows (model, then RFM baseline) of a backtest."""
    if isinstance(test, str):
        return {"status": "skipped", "reason": test}, None
    per, summary = test.run(model)
    ids = model.metadata.get("segment_ids") or list(range(model.k))
    names = dict(zip(catalog["segment_id"], catalog["segment_name"], strict=True))
    rows = [
        backtest_rows(
            per,
            summary,
            segment_ids=dict(enumerate(ids)),
            segment_names={i: names[s] for i, s in enumerate(ids)},
        ).assign(method="model")
    ]
    record: dict[str, Any] = {
        "status": "ok",
        "cutoff": test.cutoff.isoformat(),
        "horizon_days": test.horizon_days,
        "model": summary,
    }
    if test.baseline is not None and test.baseline_segments is not None:
        rows.append(
            backtest_rows(test.baseline_segments, test.baseline).assign(method="rfm_baseline")
        )
        record["rfm_baseline"] = test.baseline
        record["beats_baseline"] = (
            summary["explained_variance"] > test.baseline["explained_variance"]
            and summary["retention_spread"] > test.baseline["retention_spread"]
        )
    if champion is not None:
        record["champion"] = champion
    return record, pd.concat(rows, ignore_index=True).assign(
        cutoff=test.cutoff, horizon_days=test.horizon_days
    )


def backtest_headline(record: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a backtest record, for the run's details."""
    if record["status"] != "ok":
        return record
    keys = ("explained_variance", "retention_spread")
    out: dict[str, Any] = {
        "cutoff": record["cutoff"],
        "model": {k: round(record["model"][k], 4) for k in keys},
    }
    if "rfm_baseline" in record:
        out["rfm_baseline"] = {k: round(record["rfm_baseline"][k], 4) for k in keys}
        out["beats_baseline"] = record["beats_baseline"]
    return out


def should_promote(
    result: Any,
    champion: Champion | None,
    frame: pd.DataFrame,
    feature_set: str,
    seed: int,
    *,
    backtest: Backtest | None = None,
    tolerance: float = 0.01,
) -> tuple[bool, str, dict[str, Any] | None]:
    """A challenger replaces the champion only when it passes the gates and is not worse.

    Not worse means both: quality on the current features (silhouette, or Davies-Bouldin
    with silhouette within 0.02) and, when a backtest ran, explained variance and retention
    spread at the same cutoff each within `tolerance` of the champion's. Returns the
    decision, the reason, and the champion's backtest summary (None when not computed).
    """
    if champion is None:
        return True, "first model: promoted", None
    if not result.passed_gates:
        return False, "challenger failed the selection gates: champion kept", None
    if champion.feature_set != feature_set:
        return True, "feature set changed: promoted", None
    old_model = SegmentModel.load(champion.artifact_path)
    old = quality_on(old_model, frame, seed)
    new = quality_on(result.model, frame, seed)
    better = new["silhouette"] >= old["silhouette"] - 1e-9 or (
        new["davies_bouldin"] <= old["davies_bouldin"]
        and new["silhouette"] >= old["silhouette"] - 0.02
    )
    detail = (
        f"silhouette {new['silhouette']:.3f} vs champion {old['silhouette']:.3f}, "
        f"Davies-Bouldin {new['davies_bouldin']:.3f} vs {old['davies_bouldin']:.3f}"
    )
    champion_bt = None
    if backtest is not None:
        champion_bt = backtest.run(old_model)[1]
        mine = backtest.run(result.model)[1]
        worse = [
            key.replace("_", " ")
            for key in ("explained_variance", "retention_spread")
            if mine[key] < champion_bt[key] - tolerance
        ]
        better = better and not worse
        detail += (
            f"; backtest at {backtest.cutoff}: explained variance "
            f"{mine['explained_variance']:.3f} vs {champion_bt['explained_variance']:.3f}"
            f", retention spread {mine['retention_spread']:.3f} vs "
            f"{champion_bt['retention_spread']:.3f}"
        )
        if worse:
            detail += f" (worse on {' and '.join(worse)} by more than {tolerance:g})"
    return (
        better,
        (
            f"promoted: not worse than champion ({detail})"
            if better
            else f"champion kept: challenger worse ({detail})"
        ),
        champion_bt,
    )
