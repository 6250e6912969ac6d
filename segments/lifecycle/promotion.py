"""Whether a challenger replaces the champion, and the backtest record of a training run.

Promotion rule (`should_promote`), first match wins:
1. No champion yet: promote.
2. The caller asked for it (`segments run --promote`, flow parameter `promote`): promote.
3. The challenger failed the selection gates: keep the champion.
4. An out-of-time backtest ran: the champion is judged on the same validation windows as the
   challenger. Its recipe (family, space, k) is refitted at the same cutoffs, so both are
   measured out of time on today's data; a champion without a recipe is applied as it is
   on the newest window (it may have seen part of it, which favours it). The challenger
   replaces it when its mean objective over the windows both were judged on is at least the
   champion's minus `promotion_tolerance`.
5. No backtest: a challenger on another feature set is not comparable, so the champion
   stays (pass --promote to replace it); on the same feature set the challenger must be
   at least as good on silhouette (or on Davies-Bouldin with silhouette within 0.02),
   both measured on the current features in each model's own space.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segments.lifecycle.registry import Champion
from segments.lifecycle.snapshots import BacktestData
from segments.models import (
    Recipe,
    SegmentModel,
    TrainConfig,
    fit_recipe,
    objective_value,
    outcome_scores,
)

PROMOTION_RULE = __doc__ or ""


@dataclass
class Decision:
    """The promotion decision, why, and the champion's scores on the window (if measured)."""

    promote: bool
    reason: str
    champion_scores: dict[str, Any] | None = None

    @property
    def kept_back(self) -> bool:
        return not self.promote


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


def champion_on_window(
    model: SegmentModel, data: BacktestData, config: TrainConfig
) -> dict[str, Any] | None:
    """The champion's scores on the backtest windows: its recipe refitted at every window's
    cutoffs (scores of the newest, objective the mean, fold_objectives each), else the model
    as trained on the newest window only; None when neither can assign the customers."""
    v = data.inputs.validate
    recipe = model.metadata.get("recipe")
    folds: dict[str, float] = {}
    labels, how = None, ""
    if recipe:
        r = Recipe.from_dict(recipe)
        for f, (snap, train) in enumerate(data.inputs.folds):
            cols_ok = all(c in snap.frame and snap.frame[c].notna().any() for c in r.columns)
            if not cols_ok or (r.supervised and train is None):
                if f == 0:
                    break
                continue
            fold_labels = fit_recipe(r, snap.frame, train, config).predict(snap.frame)
            scores = outcome_scores(fold_labels, snap.y, snap.retained)
            folds[snap.label.split(" ")[0]] = objective_value(scores, config.objective)
            if f == 0:
                labels, how = fold_labels, f"its recipe {r.label} refitted at {data.cutoff}"
        if len(folds) > 1:
            how += f" and {len(folds) - 1} earlier window(s)"
    if labels is None and all(c in v.frame for c in model.features):
        labels, how = model.predict(v.frame), "as trained (it may have seen part of the window)"
        folds = {}
    if labels is None:
        return None
    scores = outcome_scores(labels, v.y, v.retained)
    objective = float(np.mean(list(folds.values()))) if folds else None
    if objective is None:
        objective = objective_value(scores, config.objective)
        folds = {v.label.split(" ")[0]: objective}
    return {**scores, "objective": objective, "fold_objectives": folds, "how": how}


def _on_shared_windows(chosen: pd.Series, theirs: dict[str, Any]) -> tuple[float, float]:
    """Challenger and champion objectives, each the mean over the windows both were judged
    on, as measured there (the selection's level alignment is for ranking, not this)."""
    raw = chosen.get("fold_objectives")
    mine = json.loads(raw) if isinstance(raw, str) else {}
    shared = [c for c in mine if c in theirs["fold_objectives"]]
    if not shared:
        return float(chosen["objective"]), float(theirs["objective"])
    return (
        float(np.mean([mine[c] for c in shared])),
        float(np.mean([theirs["fold_objectives"][c] for c in shared])),
    )


def should_promote(
    result: Any,
    champion: Champion | None,
    *,
    feature_set: str,
    frame: pd.DataFrame,
    data: BacktestData | str,
    config: TrainConfig,
    seed: int,
    force: bool = False,
) -> Decision:
    """Apply the promotion rule (module docstring)."""
    if champion is None:
        return Decision(True, "first model: promoted")
    decision = _compare(result, champion, feature_set, frame, data, config, seed)
    if force and not decision.promote:
        rule = decision.reason.removeprefix("champion kept: ")
        return Decision(
            True,
            f"promoted on request (promote=true); the rule alone would have kept the "
            f"champion: {rule}",
            decision.champion_scores,
        )
    return decision


def _compare(
    result: Any,
    champion: Champion,
    feature_set: str,
    frame: pd.DataFrame,
    data: BacktestData | str,
    config: TrainConfig,
    seed: int,
) -> Decision:
    """Rule steps 3-5: the challenger against an existing champion."""
    if not result.passed_gates:
        return Decision(False, "champion kept: the challenger failed the selection gates")
    old = SegmentModel.load(champion.artifact_path)
    if isinstance(data, BacktestData):
        chosen = result.candidates[result.candidates["chosen"]].iloc[0]
        theirs = champion_on_window(old, data, config)
        if theirs is None:
            return Decision(
                False,
                f"champion kept: {champion.model_version} cannot assign the backtest's "
                "customers (its features are missing), so the challenger cannot be compared;"
                " pass --promote to replace it",
            )
        mine, their = _on_shared_windows(chosen, theirs)
        detail = (
            f"backtest objective {mine:.4f} vs champion {their:.4f} "
            f"({theirs['how']}) on the outcome after {data.cutoff}"
        )
        better = mine >= their - config.promotion_tolerance
        return Decision(
            better,
            f"promoted: not worse than the champion ({detail})"
            if better
            else f"champion kept: the challenger is worse by more than "
            f"{config.promotion_tolerance:g} ({detail})",
            theirs,
        )
    if champion.feature_set != feature_set:
        return Decision(
            False,
            f"champion kept: the challenger uses feature set {feature_set}, the champion "
            f"{champion.feature_set}, and there is no backtest to compare them on ({data});"
            " pass --promote to replace it",
        )
    new_q, old_q = quality_on(result.model, frame, seed), quality_on(old, frame, seed)
    better = new_q["silhouette"] >= old_q["silhouette"] - 1e-9 or (
        new_q["davies_bouldin"] <= old_q["davies_bouldin"]
        and new_q["silhouette"] >= old_q["silhouette"] - 0.02
    )
    detail = (
        f"silhouette {new_q['silhouette']:.3f} vs champion {old_q['silhouette']:.3f}, "
        f"Davies-Bouldin {new_q['davies_bouldin']:.3f} vs {old_q['davies_bouldin']:.3f}"
    )
    return Decision(
        better,
        f"promoted: not worse than the champion ({detail})"
        if better
        else f"champion kept: the challenger is worse ({detail})",
    )
