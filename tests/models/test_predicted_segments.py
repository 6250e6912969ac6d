"""Segments of predicted value and P(buys again) (recipe family `predicted`) and the
selection objective that judges both, on small customers built here."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from test_backtest_select import CONFIG, NUMERIC, customers

from segments.models import Recipe, Snapshot, fit_recipe, outcome_scores, training_pool
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


def _window(cutoff: date, seed: int, n: int = 800) -> Snapshot:
    """A matured snapshot at `cutoff` whose outcome horizon (90 days) is known."""
    snap = _with_noise(n, seed)
    snap.label, snap.outcome_end = str(cutoff), cutoff + timedelta(days=90)
    return snap


WINDOWS = [date(2024, 4, 1) - timedelta(days=90 * j) for j in range(5)]  # newest first


def test_a_pooled_scorer_learns_only_windows_whose_outcome_ended_by_its_cutoff() -> None:
    """The pool for cutoff c stacks the newest matured windows ending by c (at most
    `windows`), and what a scorer for c learns does not move when an outcome that ends after
    c changes: a backtest window's scorer never saw the quarter it is judged on."""
    matured = [_window(day, seed) for seed, day in enumerate(WINDOWS, start=1)]
    cutoff = WINDOWS[1]  # windows 2, 3, 4 ended by then; 0 and 1 did not
    pool = training_pool(matured, cutoff, 3)
    assert pool is not None and pool.outcome_end is not None and pool.outcome_end <= cutoff
    assert [part.split(" ")[0] for part in pool.label.split(": ", 1)[1].split("; ")] == [
        str(d) for d in WINDOWS[2:5]
    ]
    assert len(pool.frame) == 3 * 800 and len(pool.y) == len(pool.retained) == 3 * 800
    assert training_pool(matured, cutoff, 1) is matured[2]  # one window: the newest alone
    assert training_pool(matured, WINDOWS[4], 4) is None  # nothing matured before the first

    recipe = _predicted(4, NUMERIC)
    today = _with_noise(1200, 50)
    labels = fit_recipe(recipe, today.frame, pool, CONFIG).predict(today.frame)
    changed = [_window(day, seed) for seed, day in enumerate(WINDOWS, start=1)]
    for late in changed[:2]:  # outcomes that end after the cutoff: reversed
        late.y, late.retained = late.y[::-1].copy(), 1.0 - late.retained
    again = training_pool(changed, cutoff, 3)
    assert again is not None
    assert (fit_recipe(recipe, today.frame, again, CONFIG).predict(today.frame) == labels).all()
    # ...while a change inside the pool does move the scorer (the check can tell)
    changed[2].y, changed[2].retained = changed[2].y[::-1].copy(), 1.0 - changed[2].retained
    moved = training_pool(changed, cutoff, 3)
    assert moved is not None
    scorer = lambda p: fit_recipe(recipe, today.frame, p, CONFIG).preprocessor
    assert not np.allclose(
        scorer(pool).transform(today.frame[NUMERIC]), scorer(moved).transform(today.frame[NUMERIC])
    )


def test_pooled_segments_are_the_same_whatever_the_row_order() -> None:
    """Same windows, rows shuffled within each and the windows listed in another order:
    the same pool rows in the same order, so the same segments."""
    matured = [_window(day, seed) for seed, day in enumerate(WINDOWS[:3], start=1)]
    shuffled = []
    for j, snap in enumerate(matured):
        order = np.random.default_rng(j + 20).permutation(len(snap.frame))
        copy = Snapshot(
            snap.frame.iloc[order].reset_index(drop=True),
            snap.y[order],
            snap.retained[order],
            label=snap.label,
            outcome_end=snap.outcome_end,
        )
        shuffled.append(copy)
    today = _with_noise(1000, 60)
    recipe = _predicted(5, NUMERIC)
    first = fit_recipe(recipe, today.frame, training_pool(matured, WINDOWS[0], 3), CONFIG)
    second = fit_recipe(recipe, today.frame, training_pool(shuffled[::-1], WINDOWS[0], 3), CONFIG)
    assert (first.predict(today.frame) == second.predict(today.frame)).all()


def test_a_pooled_scorer_gives_each_window_its_own_level() -> None:
    """A season where every customer spent more (one window's outcome shifted up) is not a
    slope: the scores of today's customers stay the same up to a constant. Without a level
    per window the shift would be learnt from whatever tells that window's customers apart
    (here: they are more lapsed), so the check can fail."""
    newer, older = _window(WINDOWS[1], 1), _window(WINDOWS[2], 2)
    older.frame = older.frame.assign(recency_days=older.frame["recency_days"] + 150)
    today = _with_noise(1000, 70).frame[NUMERIC]

    def value_scores(shift: float, window: bool) -> np.ndarray:
        pool = training_pool([newer, older], WINDOWS[0], 2)
        assert pool is not None and pool.window is not None
        y = pool.y + shift * (pool.window == 1)
        scorer = OutcomeScorer().fit(
            pool.frame[NUMERIC], y, pool.retained, pool.window if window else None
        )
        scores = scorer.transform(today)[:, 0]
        return scores - scores.mean()

    np.testing.assert_allclose(value_scores(0.0, True), value_scores(2.0, True), atol=1e-9)
    assert not np.allclose(value_scores(0.0, False), value_scores(2.0, False), atol=1e-3)
