"""The out-of-time selection on synthetic snapshots: the rule, trees and their rules,
determinism, and sampled fits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segments.models import (
    BacktestInputs,
    Recipe,
    Snapshot,
    TrainConfig,
    fit_recipe,
    select_by_backtest,
)
from segments.models.backtest_select import (
    _separates_most,
    aligned_objectives,
    choose,
    objective_se,
)

NUMERIC = ["recency_days", "frequency", "monetary"]
CONFIG = TrainConfig(k_min=3, k_max=5, n_init=2, bootstrap_rounds=2, threads=1)


def customers(n: int, seed: int, prefix: str = "c") -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Customers whose next-horizon value follows recency and frequency, plus noise."""
    rng = np.random.default_rng(seed)
    recency = rng.integers(1, 400, n)
    frequency = 1 + rng.poisson(np.where(rng.random(n) < 0.3, 6, 1))
    monetary = np.round(frequency * rng.lognormal(3.5, 0.6, n), 2)
    active = 1 / (1 + np.exp((recency - 120) / 40)) * np.minimum(1, frequency / 4)
    bought = rng.random(n) < active
    future = np.where(bought, monetary / frequency * rng.lognormal(0.5, 0.5, n), 0.0)
    frame = pd.DataFrame(
        {
            "customer_id": [f"{prefix}{i:05d}" for i in range(n)],
            "recency_days": recency,
            "frequency": frequency,
            "monetary": monetary,
            "p_alive": np.clip(active + rng.normal(0, 0.05, n), 0, 1),
            "expected_purchases": active * frequency / 2,
            "expected_value": active * monetary / 2,
            "rfm_segment": np.where(recency < 100, "recent", "lapsed"),
        }
    )
    return frame, np.log1p(future), bought.astype(float)


def snapshots(n: int = 900, with_train: bool = True) -> BacktestInputs:
    train = Snapshot(*customers(n, 1), label="c2")
    validate = Snapshot(*customers(n, 2), label="c1")
    now = Snapshot(customers(n, 3)[0], label="today")
    mode = "out_of_time" if with_train else "unsupervised_only"
    return BacktestInputs(now, validate, train if with_train else None, mode)


def _select(inputs: BacktestInputs, config: TrainConfig = CONFIG):
    return select_by_backtest(inputs, numeric=NUMERIC, skewed=[], categorical=[], config=config)


def test_the_choice_is_the_most_retentive_of_the_band_of_the_best() -> None:
    result = _select(snapshots())
    t = result.candidates
    recipes = {"kmeans[feature set]", "tree[rfm]", "tree[features+value]"}
    recipes |= {"tree[rfm; value+retention]", "tree[features+value; value+retention]"}
    recipes |= {"kmeans[log rfm]", "kmeans[rank value]", "kmeans[rank rfm+value]"}
    recipes |= {"kmeans[clipped log rfm]", "kmeans[clipped log rfm+value]"}
    recipes |= {"kmeans[predicted value+retention from features+value]"}
    assert recipes == set(t["recipe"])
    assert len(t) == 11 * 3 and t["chosen"].sum() == 1
    chosen = t[t["chosen"]].iloc[0]
    passing = t[t["passed_gates"]]
    best = passing.sort_values(["objective", "k"], ascending=[False, True]).iloc[0]
    floor = t["band_floor"].dropna()
    assert len(floor) == 1 and 0 < best["objective"] - floor.iloc[0] < 0.05  # one SE
    band = passing[passing["objective"] >= floor.iloc[0]]
    assert set(band.index) <= set(t.index[t["in_band"]])
    assert chosen["in_band"]
    assert chosen["backtest_retention_spread"] == pytest.approx(
        band["backtest_retention_spread"].max()
    )
    assert 3 <= result.model.k <= 5 and result.passed_gates
    assert set(result.labels) == set(range(result.model.k))
    assert result.reason.startswith("[out_of_time] Chose " + chosen["candidate"])
    assert "within one standard error" in result.reason
    # what it scored on the validation window is what was recorded
    assert result.backtest.chosen_scores["backtest_eta2"] == pytest.approx(chosen["backtest_eta2"])
    assert result.model.metadata["recipe"]["algorithm"] == chosen["algorithm"]


def test_every_fold_is_scored_and_its_level_aligned() -> None:
    """Two windows, none pruned: every candidate is judged on both; the objective is their
    mean."""
    base = snapshots()
    older = (Snapshot(*customers(900, 4), label="c0"), Snapshot(*customers(900, 5), label="cm"))
    inputs = BacktestInputs(base.now, base.validate, base.train, base.mode, "", [older])
    every = CONFIG.model_copy(update={"prune_older_windows": False})
    t = _select(inputs, every).candidates
    judged = t[t["objective"].notna()]
    assert (judged["backtest_folds"] == 2).all()
    folds = [json.loads(f) for f in judged["fold_objectives"]]
    assert all(set(f) == {"c1", "c0"} for f in folds)
    # every candidate is judged on every fold: the alignment shifts all of them alike
    shift = judged["objective"].to_numpy() - [np.mean(list(f.values())) for f in folds]
    assert np.ptp(shift) < 1e-5
    # without a tree snapshot for the older window, trees are judged on the newest only
    inputs = BacktestInputs(base.now, base.validate, base.train, base.mode, "", [(older[0], None)])
    t = _select(inputs, every).candidates
    trees = t[t["family"] == "tree"]
    assert (trees["backtest_folds"] == 1).all()
    assert (t.loc[t["family"] == "cluster", "backtest_folds"] == 2).all()


def test_aligned_objectives_put_every_fold_on_the_newest_folds_level() -> None:
    folds = [
        {"2024-06-01": 0.40, "2024-03-01": 0.20},  # judged on both: the level of each fold
        {"2024-06-01": 0.30, "2024-03-01": 0.10},
        {"2024-06-01": 0.36},  # judged on the newest only
    ]
    table = pd.DataFrame(
        {"fold_objectives": [json.dumps(f) for f in folds], "raw_objective": [0.3, 0.2, 0.36]}
    )
    out = aligned_objectives(table)
    # fold levels 0.35 and 0.15: the older fold is lifted by 0.20 for everyone
    assert out.tolist() == pytest.approx([0.40, 0.30, 0.36])
    # a single fold: nothing moves
    one = pd.DataFrame({"fold_objectives": [json.dumps({"a": 0.3})], "raw_objective": [0.3]})
    assert aligned_objectives(one).tolist() == [0.3]


def test_the_objective_se_ignores_row_order_and_shrinks_with_more_customers() -> None:
    frame, y, retained = customers(2000, 8)
    labels = (frame["recency_days"] > 120).to_numpy().astype(int) + 2 * (
        frame["frequency"] > 3
    ).to_numpy().astype(int)
    se = objective_se(labels, y, retained, "value_and_retention", 42)
    order = np.random.default_rng(1).permutation(len(y))
    assert objective_se(labels[order], y[order], retained[order], "value_and_retention", 42) == se
    assert 0 < se < 0.05
    big = np.tile(np.arange(len(y)), 8)
    assert objective_se(labels[big], y[big], retained[big], "value_and_retention", 42) < se


def test_without_a_matured_snapshot_trees_are_not_evaluated() -> None:
    result = _select(snapshots(with_train=False))
    t = result.candidates
    supervised = t["family"].isin(["tree", "distill"])
    assert t.loc[supervised, "objective"].isna().all()
    assert t.loc[supervised, "gate_failures"].str.startswith("not evaluated").all()
    assert not t.loc[supervised, "passed_gates"].any()
    assert result.model.algorithm not in ("tree", "distill")
    assert result.reason.startswith("[unsupervised_only]")


@pytest.mark.parametrize("family", ["tree", "distill"])
def test_tree_rules_select_exactly_their_segments(family: str) -> None:
    inputs = snapshots()
    recipe = Recipe(family, family, "rfm", tuple(NUMERIC), "raw", 5)
    model = fit_recipe(recipe, inputs.now.frame, inputs.train, CONFIG)
    rules = model.metadata["rules"]
    assert sorted(rules) == list(range(model.k))
    # the rows the tree learnt on: the matured snapshot (tree), today's customers (distill)
    frame = inputs.train.frame if family == "tree" else inputs.now.frame
    labels = model.predict(frame)
    for segment, rule in rules.items():
        assert " and " in rule or "<=" in rule or ">" in rule
        members = frame.eval(rule).to_numpy()
        assert (members == (labels == segment)).all(), rule
    # thresholds read like the data: whole orders and days, not 3.5
    assert all(
        "frequency <= " not in r or ".5" not in r.split("frequency <= ")[1][:6]
        for r in rules.values()
    )


def test_same_segments_whatever_the_row_order_and_pseudonyms() -> None:
    base = snapshots(600)
    first = _select(base)
    rng = np.random.default_rng(5)

    def scramble(snap: Snapshot) -> Snapshot:
        order = rng.permutation(len(snap.frame))
        frame = snap.frame.iloc[order].reset_index(drop=True)
        frame["customer_id"] = "x" + frame["customer_id"].str[::-1]
        pick = lambda a: None if a is None else np.asarray(a)[order]
        return Snapshot(frame, pick(snap.y), pick(snap.retained), snap.label)

    shuffled = BacktestInputs(
        scramble(base.now), scramble(base.validate), scramble(base.train), base.mode
    )
    second = _select(shuffled)
    by_id = dict(zip(second.customer_ids, second.labels, strict=True))
    renamed = ["x" + c[::-1] for c in first.customer_ids]
    assert [by_id[c] for c in renamed] == first.labels.tolist()
    cols = ["candidate", "objective", "stability", "chosen"]
    pd.testing.assert_frame_equal(first.candidates[cols], second.candidates[cols])


def test_a_sampled_fit_agrees_with_the_full_fit() -> None:
    """Where there are segments to find, a fit on a seeded sample finds the same ones."""
    rng = np.random.default_rng(0)
    kinds = rng.integers(0, 4, 3000)
    centres = np.array([[5, 12, 900], [60, 4, 300], [200, 2, 90], [350, 1, 30]])
    values = centres[kinds] * rng.lognormal(0, 0.15, (3000, 3))
    frame = pd.DataFrame(values, columns=NUMERIC).assign(
        customer_id=[f"c{i:05d}" for i in range(3000)]
    )
    inputs = BacktestInputs(Snapshot(frame), Snapshot(frame), None)
    recipe = Recipe("cluster", "kmeans", "rfm", tuple(NUMERIC), "log", 4)
    full = fit_recipe(recipe, inputs.now.frame, None, CONFIG)
    sampled = fit_recipe(
        recipe, inputs.now.frame, None, CONFIG.model_copy(update={"fit_sample": 600})
    )
    frame = inputs.now.frame
    assert adjusted_rand_score(full.predict(frame), sampled.predict(frame)) > 0.9
    again = fit_recipe(recipe, frame, None, CONFIG.model_copy(update={"fit_sample": 600}))
    assert (again.predict(frame) == sampled.predict(frame)).all()


def _table() -> pd.DataFrame:
    """Two recipes; A's k=5 has the best objective, B's spread retention more."""
    rows = []
    for recipe, objectives, spreads in (
        ("A", [0.10, 0.11, 0.30], [0.50, 0.55, 0.60]),
        ("B", [0.25, 0.28, 0.29], [0.62, 0.70, 0.66]),
    ):
        for k, obj, spread in zip((3, 4, 5), objectives, spreads, strict=True):
            rows.append(
                {
                    "candidate": f"{recipe} k={k}",
                    "recipe": recipe,
                    "k": k,
                    "algorithm": "kmeans",
                    "objective": obj,
                    "backtest_retention_spread": spread,
                    "smallest_share": 0.1,
                    "noise_share": 0.0,
                    "gate_failures": "",
                    "stability": np.nan,
                }
            )
    table = pd.DataFrame(rows)
    table["order"] = range(len(table))
    return table


def test_the_band_of_one_se_goes_to_the_largest_retention_spread_lazily_checked() -> None:
    table = _table()
    asked: list[int] = []
    stable = {4: 0.5}  # B k=4 (spread 0.70) is unstable; B k=5 (0.66) is next in the band

    def stability(i: int) -> float:
        asked.append(i)
        return stable.get(i, 0.99)

    chosen, passed, t = choose(table, CONFIG, stability, lambda i: 0.025)
    # best: A k=5 (0.30); band >= 0.275: A k=5, B k=4, B k=5; spreads 0.60, 0.70, 0.66
    assert t["in_band"].tolist() == [False, False, True, False, True, True]
    assert (chosen, passed) == (5, True)
    assert asked == [4, 5]  # nothing below the choice paid for refits
    assert "stability 0.50 < 0.90" in t.loc[4, "gate_failures"]
    assert not t.loc[4, "passed_gates"] and t.loc[5, "chosen"]


def test_the_reason_says_when_a_more_separating_band_member_was_unstable() -> None:
    table = _table()
    chosen, _, t = choose(table, CONFIG, lambda i: {4: 0.5}.get(i, 0.99), lambda i: 0.025)
    t["stability"] = t["stability"].fillna(0.99)
    assert _separates_most(t[t["in_band"]], t.loc[chosen]) == (
        "it separates retention most of those stable enough "
        "(one that separates it more fails the stability gate)"
    )
    chosen, _, t = choose(_table(), CONFIG, lambda i: 0.99, lambda i: 0.025)
    assert chosen == 4
    assert _separates_most(t[t["in_band"]], t.loc[chosen]) == "it separates retention most"


def test_without_a_band_the_best_objective_wins() -> None:
    chosen, passed, t = choose(_table(), CONFIG, lambda i: 0.99, lambda i: 0.0)
    assert (chosen, passed) == (2, True) and t["in_band"].sum() == 1
    chosen, _, _ = choose(_table(), CONFIG, lambda i: 0.99)  # no SE given: same
    assert chosen == 2


def test_ties_go_to_fewer_segments_and_gates_apply() -> None:
    table = _table()
    table.loc[3:5, ["objective", "backtest_retention_spread"]] = [0.31, 0.7]
    table.loc[0:2, "smallest_share"] = 0.01  # A fails the share gate everywhere
    chosen, passed, t = choose(table, CONFIG, lambda i: 0.99, lambda i: 0.01)
    assert (chosen, passed) == (3, True)
    assert t.loc[0:2, "gate_failures"].str.contains("smallest segment 1.0% < 2.0%").all()


def test_when_nothing_is_stable_the_most_stable_is_flagged() -> None:
    table = _table()
    values = {3: 0.7, 4: 0.8, 5: 0.75, 0: 0.5, 1: 0.6, 2: 0.65}
    chosen, passed, t = choose(table, CONFIG, values.get, lambda i: 0.015)
    assert (chosen, passed) == (4, False)
    assert not t["passed_gates"].any()
