"""The out-of-time selection on synthetic snapshots: the rule, trees and their rules,
determinism, and sampled fits."""

from __future__ import annotations

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
from segments.models.backtest_select import choose, recipe_scores

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


def test_the_choice_is_the_best_recipe_and_its_best_k() -> None:
    result = _select(snapshots())
    t = result.candidates
    recipes = {"kmeans[feature set]", "tree[rfm]", "tree[features+value]"}
    recipes |= {"kmeans[log rfm]", "kmeans[rank value]", "kmeans[rank rfm+value]"}
    assert recipes == set(t["recipe"])
    assert len(t) == 6 * 3 and t["chosen"].sum() == 1
    chosen = t[t["chosen"]].iloc[0]
    passing = t[t["passed_gates"]]
    assert chosen["recipe_score"] == pytest.approx(passing["recipe_score"].max())
    same = passing[passing["recipe"] == chosen["recipe"]]
    assert chosen["objective"] == pytest.approx(same["objective"].max())
    assert 3 <= result.model.k <= 5 and result.passed_gates
    assert set(result.labels) == set(range(result.model.k))
    assert result.reason.startswith("[out_of_time] Chose " + chosen["candidate"])
    # what it scored on the validation window is what was recorded
    assert result.backtest.chosen_scores["backtest_eta2"] == pytest.approx(chosen["backtest_eta2"])
    assert result.model.metadata["recipe"]["algorithm"] == chosen["algorithm"]


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
    """Two recipes: A is better at its best k, B better on average over k."""
    rows = []
    for recipe, objectives in (("A", [0.10, 0.11, 0.30]), ("B", [0.25, 0.26, 0.27])):
        for k, obj in zip((3, 4, 5), objectives, strict=True):
            rows.append(
                {
                    "candidate": f"{recipe} k={k}",
                    "recipe": recipe,
                    "k": k,
                    "algorithm": "kmeans",
                    "objective": obj,
                    "smallest_share": 0.1,
                    "noise_share": 0.0,
                    "gate_failures": "",
                    "stability": np.nan,
                }
            )
    table = pd.DataFrame(rows)
    table["order"] = range(len(table))
    return table


def test_the_rule_takes_the_space_first_then_k_and_checks_stability_lazily() -> None:
    table = _table()
    # best half of k: A -> mean(0.30, 0.11) = 0.205; B -> mean(0.27, 0.26) = 0.265
    scores = recipe_scores(table)
    assert scores.iloc[0] == pytest.approx(0.205) and scores.iloc[3] == pytest.approx(0.265)
    asked: list[int] = []
    stable = {5: 0.5, 4: 0.95}  # B k=5 is unstable; B k=4 is the next in order

    def stability(i: int) -> float:
        asked.append(i)
        return stable.get(i, 0.99)

    chosen, passed, t = choose(table, CONFIG, stability)
    assert (chosen, passed) == (4, True)
    assert asked == [5, 4]  # nothing below the choice paid for refits
    assert "stability 0.50 < 0.90" in t.loc[5, "gate_failures"]
    assert not t.loc[5, "passed_gates"] and t.loc[4, "chosen"]


def test_ties_go_to_fewer_segments_and_gates_apply() -> None:
    table = _table()
    table.loc[3:5, "objective"] = 0.27
    table.loc[0:2, "smallest_share"] = 0.01  # A fails the share gate everywhere
    chosen, passed, t = choose(table, CONFIG, lambda i: 0.99)
    assert (chosen, passed) == (3, True)
    assert t.loc[0:2, "gate_failures"].str.contains("smallest segment 1.0% < 2.0%").all()


def test_when_nothing_is_stable_the_most_stable_is_flagged() -> None:
    table = _table()
    values = {3: 0.7, 4: 0.8, 5: 0.75, 0: 0.5, 1: 0.6, 2: 0.65}
    chosen, passed, t = choose(table, CONFIG, values.get)
    assert (chosen, passed) == (4, False)
    assert not t["passed_gates"].any()
