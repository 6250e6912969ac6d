"""Segments of predicted value and P(buys again) (recipe family `predicted`) and the
selection objective that judges both, on small customers built here."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from test_backtest_select import CONFIG, NUMERIC, customers

from segments.models import Recipe, Snapshot, fit_recipe, outcome_scores
from segments.models.backtest_select import objective_value
from segments.models.predictive import OutcomeScorer

NOISE = ["n1", "n2", "n3"]


def _with_noise(n: int, seed: int) -> Snapshot:
    """customers() plus three columns that say nothing about what customers do next."""
    frame, y, retained = customers(n, seed)
    rng = np.random.default_rng(seed + 100)
    noise = {c: rng.lognormal(3, 1, n) for c in NOISE}
    return Snapshot(frame.assign(**noise), y, retained)


def _predicted(k: int, columns: list[str]) -> Recipe:
    return Recipe(
        "predicted", "kmeans", "rfm+noise", tuple(columns), "clog", k, target="value+retention"
    )


def test_predicted_segments_learn_what_matters_and_beat_clustering_the_same_columns() -> None:
    """Out of time (learnt at one cutoff, judged on the next), K-means on the two predicted
    scores separates future value and buying again better than K-means on the same columns,
    where columns that predict nothing weigh as much as recency."""
    train, judged = _with_noise(3000, 1), _with_noise(3000, 2)
    cols = [*NUMERIC, *NOISE]
    objective = {}
    for name, recipe in {
        "predicted": _predicted(5, cols),
        "clustered": Recipe("cluster", "kmeans", "rfm+noise", tuple(cols), "clog", 5),
    }.items():
        model = fit_recipe(recipe, judged.frame, train, CONFIG)
        scores = outcome_scores(model.predict(judged.frame), judged.y, judged.retained)
        objective[name] = objective_value(scores, "value_and_retention")
        assert scores["k"] == 5
    assert objective["predicted"] > objective["clustered"] + 0.02, objective
    assert _predicted(5, cols).name == "kmeans[predicted value+retention from rfm+noise]"
    assert _predicted(5, cols).supervised


def test_predicted_segments_are_the_same_whatever_the_row_order() -> None:
    train, today = _with_noise(1500, 1), _with_noise(1500, 3)
    recipe = _predicted(4, NUMERIC)
    first = fit_recipe(recipe, today.frame, train, CONFIG).predict(today.frame)
    order = np.random.default_rng(7).permutation(len(train.frame))
    shuffled = Snapshot(
        train.frame.iloc[order].reset_index(drop=True), train.y[order], train.retained[order]
    )
    back = np.random.default_rng(8).permutation(len(today.frame))
    second = fit_recipe(recipe, today.frame.iloc[back], shuffled, CONFIG).predict(today.frame)
    assert (first == second).all()


def test_the_scorer_ranks_buyers_and_copes_with_one_outcome_class() -> None:
    train = _with_noise(2000, 1)
    scores = (
        OutcomeScorer()
        .fit(train.frame[NUMERIC], train.y, train.retained)
        .transform(
            train.frame[NUMERIC].astype("Float64")  # nullable columns, as the warehouse gives
        )
    )
    assert scores.shape == (2000, 2)
    # shrunk scores: they rank customers (who buys again, who spends), not calibrated
    assert roc_auc_score(train.retained, scores[:, 1]) > 0.75
    assert np.corrcoef(scores[:, 0], train.y)[0, 1] > 0.4
    everyone = OutcomeScorer().fit(train.frame[NUMERIC], train.y, np.ones(2000))
    assert (everyone.transform(train.frame[NUMERIC])[:, 1] == 1.0).all()
    with_gap = train.frame[NUMERIC].astype("Float64")
    with_gap.iloc[0, 0] = pd.NA  # a missing value is imputed, not an error
    assert np.isfinite(everyone.transform(with_gap)).all()


def test_the_objective_prefers_segments_that_separate_value_and_retention() -> None:
    """Two splits with the same value separation: the one that also tells apart who comes
    back scores higher; one that tells apart neither scores lowest."""
    rng = np.random.default_rng(0)
    n = 4000
    again = (rng.random(n) < 0.5).astype(float)
    high = rng.random(n) < 0.5
    # value follows `high` and, among buyers, more so; retention follows `again` only
    y = np.where(again == 1, np.where(high, 5.0, 3.0), np.where(high, 2.0, 0.0))
    y = y + rng.normal(0, 0.5, n)
    both = 2 * high.astype(int) + again.astype(int)
    value_only = 2 * high.astype(int) + rng.integers(0, 2, n)
    neither = rng.integers(0, 4, n)
    score = {
        name: objective_value(outcome_scores(lab, y, again), "value_and_retention")
        for name, lab in {"both": both, "value_only": value_only, "neither": neither}.items()
    }
    assert score["both"] > score["value_only"] > score["neither"], score
