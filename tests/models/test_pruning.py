"""Older backtest windows scored only for candidates that could reach the band: the rule on
made-up objectives, and the selection with and without it on synthetic snapshots."""

from __future__ import annotations

import json

import numpy as np
from test_backtest_select import CONFIG, NUMERIC, customers, snapshots

from segments.models import BacktestInputs, Snapshot, select_by_backtest
from segments.models.pruning import PRUNED, prune_older_windows


def _mean(folds: dict[int, dict[str, float]]) -> dict[int, float]:
    return {i: float(np.mean(list(f.values()))) for i, f in folds.items()}


def test_leaders_widen_until_no_pruned_candidate_can_reach_the_floor() -> None:
    """Newest-window objectives 0.50 .. 0.10; the older window moves each mean by `gain`."""
    values = [0.50, 0.45, 0.40, 0.35, 0.30, 0.25, 0.20, 0.15, 0.10]
    newest = {i: {"c1": v} for i, v in enumerate(values)}
    gain = {0: -0.02, 1: 0.0, 2: 0.06, 3: 0.10, 4: 0.10, 5: 0.0, 6: 0.0, 7: 0.0, 8: 0.9}
    asked: list[int] = []

    def older(i: int) -> dict[str, float]:
        asked.append(i)
        return {"c0": values[i] + 2 * gain[i]}

    def run(gated: set[int], se: float) -> tuple[dict, dict]:
        asked.clear()
        return prune_older_windows(newest, gated, older, _mean, lambda i, w: se / np.sqrt(w))

    # SE 0.02: first leaders within 0.04 of 0.50 -> {0}; floor 0.48 - 0.014, reach 0.02
    # (no leader gains) -> 1 (0.45 + 0.02) joins; 2 (0.40 + 0.02) cannot reach
    folds, pruned = run(set(newest), 0.02)
    assert asked == [0, 1]
    assert set(pruned) == set(range(2, 9))
    assert all(r.startswith(PRUNED) and "band floor" in r for r in pruned.values())
    assert folds[0] == {"c1": 0.50, "c0": 0.46} and folds[3] == {"c1": 0.35}
    # SE 0.05: {0, 1, 2}; 2 gains 0.06, so 3 can reach the floor; 3 gains 0.10, so 4 can
    folds, pruned = run(set(newest), 0.05)
    assert asked == [0, 1, 2, 3, 4]
    assert 8 in pruned  # 0.10 + reach stays below the floor: its gain of 0.9 is never seen
    # the floor is set by gate-passing candidates: when none leads, they are scored
    _, pruned = run({3, 4}, 0.001)
    assert asked[:3] == [0, 3, 4] and 3 not in pruned
    # nothing passes the gates: nothing is pruned
    _, pruned = run(set(), 0.001)
    assert pruned == {} and sorted(asked) == list(range(9))


def _three_windows() -> BacktestInputs:
    base = snapshots(700)
    older = [
        (Snapshot(*customers(700, 4), label="c0"), Snapshot(*customers(700, 5), label="cm")),
        (Snapshot(*customers(700, 5), label="cm"), Snapshot(*customers(700, 6), label="cn")),
    ]
    return BacktestInputs(base.now, base.validate, base.train, base.mode, "", older)


def _select(inputs: BacktestInputs, prune: bool):
    config = CONFIG.model_copy(update={"prune_older_windows": prune})
    return select_by_backtest(inputs, numeric=NUMERIC, skewed=[], categorical=[], config=config)


def test_pruned_selection_chooses_as_the_full_one_and_records_why() -> None:
    inputs = _three_windows()
    full, pruned = _select(inputs, False), _select(inputs, True)
    f, p = full.candidates, pruned.candidates
    assert len(f) == len(p)  # every candidate is recorded either way
    assert f.loc[f["chosen"], "candidate"].tolist() == p.loc[p["chosen"], "candidate"].tolist()
    np.testing.assert_array_equal(full.labels, pruned.labels)
    # the full run's band was scored on every window in the pruned run too
    band = set(f.loc[f["in_band"], "candidate"])
    kept = p[~p["gate_failures"].fillna("").str.startswith(PRUNED)]
    assert band <= set(kept["candidate"])
    cut = p[p["gate_failures"].fillna("").str.startswith(PRUNED)]
    assert len(cut) > 0 and not cut["passed_gates"].any() and not cut["in_band"].any()
    assert (cut["backtest_folds"] == 1).all()
    assert all(set(json.loads(x)) == {"c1"} for x in cut["fold_objectives"])
    # the leaders' scores are those of the full run
    both = kept.merge(f, on="candidate", suffixes=("", "_full"))
    assert (both["fold_objectives"] == both["fold_objectives_full"]).all()
    # same input, same result
    again = _select(inputs, True).candidates
    assert again["gate_failures"].fillna("").tolist() == p["gate_failures"].fillna("").tolist()


def test_when_the_band_fails_stability_the_pruned_are_scored_before_falling_outside() -> None:
    """A stability gate few candidates pass: the choice falls outside the band, and it is the
    one scoring every candidate on every window gives."""
    inputs = _three_windows()
    strict = {"min_stability": 0.995, "max_stability_checks": 4}
    runs = []
    for prune in (False, True):
        config = CONFIG.model_copy(update={**strict, "prune_older_windows": prune})
        runs.append(
            select_by_backtest(
                inputs, numeric=NUMERIC, skewed=[], categorical=[], config=config
            ).candidates
        )
    full, pruned = runs
    row = full[full["chosen"]].iloc[0]
    assert not (row["in_band"] and row["passed_gates"])  # the band did not decide
    assert full.loc[full["chosen"], "candidate"].tolist() == (
        pruned.loc[pruned["chosen"], "candidate"].tolist()
    )
    checked = lambda t: t.loc[t["stability"].notna(), "candidate"].tolist()
    assert checked(full) == checked(pruned)


def test_nothing_is_pruned_when_some_candidate_misses_an_older_window() -> None:
    """Trees without a matured snapshot before the older window are judged on fewer windows;
    their alignment depends on every candidate judged on all, so all are scored."""
    base = snapshots(600)
    older = [(Snapshot(*customers(600, 4), label="c0"), None)]
    inputs = BacktestInputs(base.now, base.validate, base.train, base.mode, "", older)
    t = _select(inputs, True).candidates
    assert not t["gate_failures"].fillna("").str.startswith(PRUNED).any()
    assert (t.loc[t["family"] == "tree", "backtest_folds"] == 1).all()
    assert (t.loc[t["family"] == "cluster", "backtest_folds"] == 2).all()
