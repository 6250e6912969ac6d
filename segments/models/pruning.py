"""Score the older backtest windows only for candidates that could still reach the band.

The out-of-time selection (segments/models/backtest_select.py) averages each candidate's
objective over up to F windows and keeps the candidates within one standard error of the
best. Scoring a candidate on a window means fitting it at that window's cutoff, so F windows
cost F fits per candidate, and most candidates are well below the band on the newest window.
The older windows can only move a candidate so far, so they are scored for the leaders:

1. Every candidate is scored on the newest window.
2. The first leaders: within REACH_START standard errors (of the best newest-window
   objective) of the best newest-window objective; they are scored on the older windows.
3. From the leaders: their aligned mean objectives, the band floor the selection would use
   (the best gate-passing leader minus its standard error), and the reach: the most any
   leader gained from the older windows (its mean minus its newest-window objective), plus
   one newest-window standard error (a candidate poor on the newest window by chance tends
   to gain back more than the leaders did).
4. Every candidate whose newest-window objective plus the reach reaches the floor joins the
   leaders; repeat 3-4 until none joins. The rest are pruned: recorded with their newest
   window's scores and the reason, and not chosen.

Step 4 makes the leaders a superset of the band whenever no pruned candidate gains more
than the reach; the selection rule itself is unchanged. When every candidate of the band
fails the stability gate, the choice falls outside the band; select_by_backtest then lowers
the floor to the chosen candidate's objective (to everything when none was stable) and
chooses again, so the candidates that could have come first are scored too.

Nothing is pruned when some candidate cannot be judged on every window (a tree where the
older history is short): its objective is aligned by the levels of the candidates judged on
all windows, and pruning would change which candidates those are. With every candidate on
every window, pruning moves the aligned objectives of all scored candidates by one constant
(the levels are the leaders' means), so the band and the order are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

REACH_START = 2.0  # first leaders: within this many newest-window SEs of the newest best
PRUNED = "pruned after the newest window"  # gate_failures prefix of a pruned candidate

FoldObjectives = dict[str, float]  # window cutoff -> objective


def prune_older_windows(
    newest: dict[int, FoldObjectives],
    gated: set[int],
    score_older: Callable[[int], FoldObjectives],
    aligned: Callable[[dict[int, FoldObjectives]], dict[int, float]],
    band_se: Callable[[int, int], float],
    cap: float = float("inf"),
) -> tuple[dict[int, FoldObjectives], dict[int, str]]:
    """Each candidate's window objectives, and why each pruned candidate was pruned.

    newest: candidate -> {newest cutoff: objective}; gated: the candidates passing the gates
    known before stability; score_older(i): i's objectives on the older windows it can be
    scored on (fits it there); aligned: mean objectives with window levels aligned, as the
    selection computes them; band_se(i, windows): the standard error the band uses; cap: a
    lower floor, to score every candidate that could beat one chosen outside the band.
    """
    folds = {i: dict(f) for i, f in newest.items()}
    first = {i: next(iter(f.values())) for i, f in newest.items()}
    if not first:
        return folds, {}
    top = max(first, key=lambda i: (first[i], -i))
    se0 = band_se(top, 1)
    scored: set[int] = set()
    todo = {i for i in first if first[i] >= first[top] - REACH_START * se0}
    if not gated:  # nothing passes the gates: the selection ranks everything, so score it
        todo = set(first)
    floor = reach = float("nan")
    while todo:
        for i in sorted(todo):
            folds[i] |= score_older(i)
        scored |= todo
        if not gated & scored:  # the band is built on gate-passing candidates
            todo = gated - scored
            continue
        objective = aligned({i: folds[i] for i in scored})
        best = max(gated & scored, key=lambda i: (objective[i], -i))
        floor = min(cap, objective[best] - band_se(best, len(folds[best])))
        gains = [objective[i] - first[i] for i in scored if len(folds[i]) > 1]
        reach = max([0.0, *gains]) + se0
        todo = {i for i in first if i not in scored and first[i] + reach >= floor}
    pruned = {
        i: f"{PRUNED}: objective there {first[i]:.4f} + reach {reach:.4f} (the largest gain "
        f"of a leader from the older windows + one SE) < band floor {floor:.4f}"
        for i in sorted(set(first) - scored)
    }
    return folds, pruned
