"""Choose a segmentation by what segments are for: telling apart what customers do next.

Time layout of a run at as_of with horizon H (every window ends at or before as_of):

    c2 = c1 - H            c1 = as_of - H                  as_of
    |--- train outcome ----|--- validation outcome ---------|
    trees learn features(c2) -> outcome [c2, c1)     clusterings fit features(c1)
    every candidate assigns features(c1) and is scored on outcome [c1, as_of)
    deployed: trees learn features(c1) -> outcome [c1, as_of), clusterings fit features(as_of)

Selection rule (`choose`):
1. Score. Each candidate's validation assignment is scored on the validation outcome:
   eta2 of y = log1p(max(future net revenue, 0)) and of buying again (0/1), each adjusted
   for the k - 1 degrees of freedom a partition spends (epsilon squared). The objective is
   `value` (adjusted eta2 of y) or `value_and_retention` (the mean of both; the default).
2. Gates: k in [k_min, k_max]; smallest validation segment >= min_segment_share; noise share
   <= max_noise_share for density methods; bootstrap stability of the deployed fit (mean ARI
   of refits on seeded 80% subsamples) >= min_stability.
3. Space before k. A recipe (family x space) is scored by the mean objective of its best
   half of the k values that pass the gates: one validation window is noisy, and a space
   that separates the future at several k is less likely a lucky draw than one candidate.
   Recipes are taken in that order, and within a recipe its candidates by objective.
4. Parsimony: the adjusted eta2 charges every extra segment; candidates tying on the
   objective (to 9 decimals) go to fewer segments, then to grid order.
5. The first candidate in that order passing every gate wins. Stability is computed lazily
   in that order for at most max_stability_checks candidates; when none is stable, the most
   stable of those is returned flagged passed_gates=False (a champion then stays).
Internal indices (silhouette, Davies-Bouldin, Calinski-Harabasz, WCSS) are recorded as
diagnostics, in each candidate's own space.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segments.models.config import TrainConfig
from segments.models.embed import display_matrix
from segments.models.metrics import (
    calinski_harabasz,
    davies_bouldin,
    outcome_scores,
    silhouette,
    wcss,
)
from segments.models.model import SegmentModel
from segments.models.recipes import Recipe, Snapshot, fit_recipe, learn_rows, recipe_grid
from segments.models.spaces import usable
from segments.models.train import TrainResult

SELECTION_RULE_OOT = __doc__ or ""
DENSITY = frozenset({"dbscan", "hdbscan"})
DIAGNOSTIC_ROWS = 5_000  # silhouette, Davies-Bouldin, Calinski-Harabasz, WCSS on a sample
STABILITY_ROWS = 20_000  # the bootstrap ARI is measured on a sample of today's customers
OBJECTIVES: dict[str, tuple[str, Callable[[dict[str, float]], float]]] = {
    "value": ("adjusted eta2 of log1p future revenue", lambda s: s["adjusted_eta2"]),
    "value_and_retention": (
        "mean of the adjusted eta2 of log1p future revenue and of buying again",
        lambda s: 0.5 * (s["adjusted_eta2"] + s["adjusted_retention_eta2"]),
    ),
}


@dataclass
class BacktestInputs:
    """The snapshots a backtest-selected run uses (see the module docstring)."""

    now: Snapshot  # features at as_of (no outcome yet)
    validate: Snapshot  # features at c1, outcome over [c1, as_of)
    train: Snapshot | None  # features at c2, outcome over [c2, c1); None: too little history
    mode: str = "out_of_time"  # or "unsupervised_only"
    note: str = ""


@dataclass
class BacktestChoice:
    """What the selection measured, for the registry, ops.backtests and the report."""

    mode: str
    objective: str
    validation_labels: np.ndarray  # chosen recipe's assignment of the validation customers
    peer_labels: dict[str, np.ndarray] = field(default_factory=dict)
    chosen_scores: dict[str, float] = field(default_factory=dict)


def objective_value(scores: dict[str, float], name: str) -> float:
    return float(OBJECTIVES[name][1](scores))


def unavailable(recipe: Recipe, inputs: BacktestInputs) -> str:
    """Why a recipe cannot be fitted and judged here ('' when it can)."""
    cols = list(recipe.columns)
    frames = [inputs.now.frame, inputs.validate.frame]
    if recipe.supervised:
        if inputs.train is None:
            return inputs.note or "no matured snapshot before the validation cutoff"
        frames.append(inputs.train.frame)
    if not all(usable(f, cols) for f in frames):
        return "its columns are missing or empty at a cutoff"
    return ""


def evaluate(
    recipes: list[Recipe], inputs: BacktestInputs, config: TrainConfig
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """Fit every available recipe for validation and score its assignment (rule step 1)."""
    v = inputs.validate
    rows, labelings = [], {}
    diag_sample = min(config.silhouette_sample, 1_000)  # diagnostics: a small sample will do
    for i, recipe in enumerate(recipes):
        row: dict[str, Any] = {
            "candidate": recipe.label,
            "recipe": recipe.name,
            "family": recipe.family,
            "space": recipe.space,
            "algorithm": recipe.algorithm,
            "params": json.dumps(recipe.as_dict(), sort_keys=True),
            "order": i,
        }
        why = unavailable(recipe, inputs)
        if why:
            rows.append({**row, "k": recipe.k, "gate_failures": f"not evaluated: {why}"})
            continue
        started = time.perf_counter()
        model = fit_recipe(recipe, v.frame, inputs.train, config)
        labels = model.predict(v.frame)
        row["fit_seconds"] = round(time.perf_counter() - started, 4)
        scores = outcome_scores(labels, v.y, v.retained)
        # internal indices are diagnostics: measured on a seeded sample of the customers
        rows_d = learn_rows(v.frame, list(recipe.columns), DIAGNOSTIC_ROWS, config.seed)
        X, labels_d = display_matrix(model, v.frame.iloc[rows_d]), labels[rows_d]
        row |= {
            f"backtest_{k}" if k not in ("k", "n", "smallest_share") else k: s
            for k, s in scores.items()
        }
        row |= {
            "backtest_explained_variance": scores["eta2"],
            "selection_mode": inputs.mode,
            "objective": objective_value(scores, config.objective),
            "noise_share": float(model.noise_share),
            "silhouette": silhouette(X, labels_d, diag_sample, config.seed),
            "davies_bouldin": davies_bouldin(X, labels_d),
            "calinski_harabasz": calinski_harabasz(X, labels_d),
            "wcss": wcss(X, labels_d) * len(labels) / len(labels_d),
            "gate_failures": "",
        }
        rows.append(row)
        labelings[i] = labels
    table = pd.DataFrame(rows)
    for col in ("objective", "stability", "backtest_eta2", "silhouette", "wcss", "noise_share"):
        if col not in table:
            table[col] = np.nan
    return table, labelings


def static_gates(row: pd.Series, config: TrainConfig) -> list[str]:
    """The gates a candidate fails before its stability is known (rule step 2)."""
    if str(row.get("gate_failures") or "").startswith("not evaluated"):
        return [row["gate_failures"]]
    fails = []
    if not config.k_min <= row["k"] <= config.k_max:
        fails.append(f"k={int(row['k'])} outside [{config.k_min}, {config.k_max}]")
    if row["smallest_share"] < config.min_segment_share:
        fails.append(
            f"smallest segment {row['smallest_share']:.1%} < {config.min_segment_share:.1%}"
        )
    if row["algorithm"] in DENSITY and row["noise_share"] > config.max_noise_share:
        fails.append(f"noise {row['noise_share']:.1%} > {config.max_noise_share:.1%}")
    return fails


def _subsample(snap: Snapshot, columns: list[str], fraction: float, rng) -> Snapshot:
    """A seeded share of a snapshot's rows, drawn in canonical order (order- and id-free)."""
    order = learn_rows(snap.frame, columns, len(snap.frame), 0)
    size = max(2, round(fraction * len(order)))
    idx = order[np.sort(rng.choice(len(order), size=size, replace=False))]
    pick = lambda a: None if a is None else np.asarray(a)[idx]
    return Snapshot(snap.frame.iloc[idx].reset_index(drop=True), pick(snap.y), pick(snap.retained))


class Deployer:
    """Deployed fits (and their stability) of recipes, each computed once per run."""

    def __init__(self, inputs: BacktestInputs, config: TrainConfig, checksum: str) -> None:
        self.inputs, self.config, self.checksum = inputs, config, checksum
        self.models: dict[str, SegmentModel] = {}

    def model(self, recipe: Recipe) -> SegmentModel:
        if recipe.label not in self.models:
            self.models[recipe.label] = fit_recipe(
                recipe,
                self.inputs.now.frame,
                self.inputs.validate,
                self.config,
                checksum=self.checksum,
            )
        return self.models[recipe.label]

    def stability(self, recipe: Recipe) -> float:
        """Mean ARI of the deployed assignment vs refits on seeded subsamples of what the
        recipe learns from (today's customers and/or the matured snapshot)."""
        c = self.config
        if c.bootstrap_rounds <= 0:
            return float("nan")
        now, learn = self.inputs.now, self.inputs.validate
        cols = list(recipe.columns)
        # ARI on a seeded sample of today's customers: an estimate is all the gate needs
        judged = now.frame.iloc[learn_rows(now.frame, cols, STABILITY_ROWS, c.seed)]
        base = self.model(recipe).predict(judged)
        scores = []
        for r in range(c.bootstrap_rounds):
            rng = np.random.default_rng([c.seed, r])
            frame = now.frame
            train = learn
            if recipe.family != "tree":
                frame = _subsample(now, cols, c.bootstrap_fraction, rng).frame
            if recipe.supervised:
                train = _subsample(learn, cols, c.bootstrap_fraction, rng)
            refit = fit_recipe(recipe, frame, train, c, seed=c.seed + r + 1)
            scores.append(adjusted_rand_score(base, refit.predict(judged)))
        return float(np.mean(scores))


def recipe_scores(passing: pd.DataFrame) -> pd.Series:
    """Per candidate, its recipe's score: the mean objective of the recipe's best half of
    the k values that pass the gates (at least one)."""

    def best_half(values: pd.Series) -> float:
        top = values.dropna().sort_values(ascending=False)
        return float(top.head(max(1, -(-len(top) // 2))).mean()) if len(top) else np.nan

    per = passing.groupby("recipe")["objective"].agg(best_half)
    return passing["recipe"].map(per)


def choose(
    table: pd.DataFrame, config: TrainConfig, stability_of: Callable[[int], float]
) -> tuple[int, bool, pd.DataFrame]:
    """Apply rule steps 2-4; returns the chosen row, whether it passed, and the table."""
    t = table.copy()
    t["gate_failures"] = ["; ".join(static_gates(row, config)) for _, row in t.iterrows()]
    static = t["gate_failures"] == ""
    if not static.any():
        evaluated = t["objective"].notna()
        if not evaluated.any():
            raise ValueError("no candidate could be evaluated on the backtest")
        static = evaluated  # nothing passes: rank every evaluated candidate, flagged below
    t["recipe_score"] = recipe_scores(t[static])
    ranked = (
        t[static]
        .assign(_r=-t["recipe_score"].round(9), _o=-t["objective"].round(9))
        .sort_values(["_r", "recipe", "_o", "k", "order"])
        .index.tolist()
    )
    chosen, passed = None, False
    for i in ranked[: config.max_stability_checks]:
        t.at[i, "stability"] = stability_of(i)
        stable = not np.isfinite(t.at[i, "stability"]) or (
            t.at[i, "stability"] >= config.min_stability
        )
        if stable:
            chosen, passed = i, t.at[i, "gate_failures"] == ""
            break
        t.at[i, "gate_failures"] = "; ".join(
            filter(
                None,
                [
                    t.at[i, "gate_failures"],
                    f"stability {t.at[i, 'stability']:.2f} < {config.min_stability:.2f}",
                ],
            )
        )
    if chosen is None:
        checked = t.loc[ranked[: config.max_stability_checks], "stability"]
        chosen = int(checked.idxmax())
    t["passed_gates"] = (t["gate_failures"] == "") & t["objective"].notna()
    t["chosen"] = t.index == chosen
    return int(chosen), bool(passed), t


def _reason(
    t: pd.DataFrame, chosen: int, passed: bool, inputs: BacktestInputs, config: TrainConfig
) -> str:
    row = t.loc[chosen]
    what = OBJECTIVES[config.objective][0]
    v = inputs.validate
    head = (
        f"[{inputs.mode}] Chose {row['candidate']}: its recipe {row['recipe']} scores best on "
        f"the out-of-time backtest ({row['recipe_score']:.4f}, the mean objective of its best "
        f"half of k values; objective = {what}) and k={int(row['k'])} is its best passing k "
        f"({row['objective']:.4f}); {int(t['passed_gates'].sum())} of {len(t)} candidates "
        f"pass the gates; measured on what the {len(v.frame):,} customers at {v.label} did next"
    )
    if not passed:
        head = (
            f"[{inputs.mode}] No candidate passed every gate; chose {row['candidate']} "
            f"(objective {row['objective']:.4f}), which fails: {row['gate_failures']}"
        )
    scores = (
        f"eta2 {row['backtest_eta2']:.3f}, retention spread "
        f"{row['backtest_retention_spread']:.3f}, smallest segment {row['smallest_share']:.1%}"
        f", stability {row['stability']:.2f}"
    )
    parts = [head, scores]
    others = t[t["passed_gates"] & (t["recipe"] != row["recipe"])]
    if len(others):  # the best candidate of the next best recipe
        runner = others.sort_values(["recipe_score", "objective"], ascending=False).iloc[0]
        parts.append(
            f"next recipe {runner['recipe']} ({runner['recipe_score']:.4f}; its best "
            f"{runner['candidate']} {runner['objective']:.4f})"
        )
    if inputs.note:
        parts.append(inputs.note)
    return "; ".join(parts) + "."


def select_by_backtest(
    inputs: BacktestInputs,
    *,
    numeric: list[str],
    skewed: list[str],
    categorical: list[str],
    config: TrainConfig,
    checksum: str = "",
    baseline: np.ndarray | None = None,
) -> TrainResult:
    """Evaluate the recipe grid out of time, choose by the rule, deploy the choice."""
    recipes = recipe_grid(config, numeric, skewed, categorical)
    table, labelings = evaluate(recipes, inputs, config)
    deployer = Deployer(inputs, config, checksum)
    chosen, passed, table = choose(
        table, config, lambda i: deployer.stability(recipes[int(table.at[i, "order"])])
    )
    recipe = recipes[int(table.at[chosen, "order"])]
    model = deployer.model(recipe)
    reason = _reason(table, chosen, passed, inputs, config)
    row = table.loc[chosen]
    model.metadata |= {
        "reason": reason,
        "passed_gates": passed,
        "selection_mode": inputs.mode,
        "objective": config.objective,
        "config": config.model_dump(mode="json"),
        "n_rows": len(inputs.now.frame),
        "id_column": "customer_id",
        "numeric": list(numeric),
        "skewed": list(skewed),
        "categorical": list(categorical),
    }
    peer = next(
        (
            i
            for i, r in enumerate(recipes)
            if r.name == "kmeans[log rfm]" and r.k == recipe.k and i in labelings
        ),
        None,
    )
    peers = {"kmeans_log_rfm": labelings[peer]} if peer is not None else {}
    if baseline is not None:
        peers["rfm_baseline"] = np.asarray(baseline)
    choice = BacktestChoice(
        mode=inputs.mode,
        objective=config.objective,
        validation_labels=labelings[int(row["order"])],
        peer_labels=peers,
        chosen_scores={k: row[k] for k in row.index if k.startswith("backtest_")},
    )
    return TrainResult(
        candidates=table.drop(columns=["order"]),
        model=model,
        labels=model.predict(inputs.now.frame),
        customer_ids=inputs.now.frame["customer_id"].to_numpy(),
        reason=reason,
        elbow_k=None,
        passed_gates=passed,
        backtest=choice,
    )
