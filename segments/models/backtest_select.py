"""Choose a segmentation by what segments are for: telling apart what customers do next.

Time layout of a run at as_of with horizon H and F folds (every window ends by as_of):

    fold j (j = 0 .. F-1): validation cutoff v_j = as_of - (j + 1) H, trees learn at v_j - H
    |-- train outcome (fold 0) --|-- validation outcome (fold 0) --|  as_of
    c2 = v_0 - H                 c1 = v_0                           as_of
    fold j: clusterings fit features(v_j); trees learn features(v_j - H) -> outcome
    [v_j - H, v_j); both assign features(v_j) and are scored on outcome [v_j, v_j + H)
    deployed: trees learn features(c1) -> outcome [c1, as_of), clusterings fit features(as_of)

A fold is used when its cutoff has enough history (a tree's fold also needs one horizon more
before it), so a short history gives fewer folds, never a failure. With pool_windows > 1
every supervised recipe of fold j learns from the windows whose outcome ended by v_j, pooled
(recipes.training_pool), and the deployed one from those ended by as_of (inputs.learn).

Selection rule (`choose`):
1. Score. Each candidate's assignment at a fold is scored on that fold's outcome: eta2 of
   y = log1p(max(future net revenue, 0)) and of buying again (0/1), each adjusted for the
   k - 1 degrees of freedom a partition spends (epsilon squared). The objective is `value`
   (adjusted eta2 of y) or `value_and_retention` (the mean of both; the default).
2. Average over folds. A candidate's objective is its mean over the folds it was judged on,
   each fold's level aligned to fold 0's (`aligned_objectives`): one quarter can be odd (a
   season, a quiet spell), and averaging several makes a lucky draw less likely to win.
3. Gates: k in [k_min, k_max]; smallest segment on the newest window >= min_segment_share;
   noise share <= max_noise_share for density methods; bootstrap stability of the deployed
   fit (mean ARI of refits on seeded 80% subsamples) >= min_stability.
4. Value first, then retention (lexicographic with a tolerance). The band: the gate-passing
   candidates whose objective is within one standard error of the best one (the SE of the
   best candidate's objective: a bootstrap over the newest window's customers, divided by
   the square root of its folds); candidates inside the band are indistinguishable on the
   objective given the data. Within the band the one with the largest retention spread
   (max - min share of a segment's customers who buy again, mean over folds) wins: two
   segmentations that tell future value apart equally well, the one that also finds the
   customers who will not come back is the more useful one.
5. Parsimony: the adjusted eta2 charges every extra segment; spreads tying (to 9 decimals)
   go to fewer segments, then to the better objective, then to grid order; outside the band
   candidates follow by objective, then fewer segments.
6. The first candidate in that order passing every gate wins. Stability is computed lazily
   in that order for at most max_stability_checks candidates; when none is stable, the most
   stable of those is returned flagged passed_gates=False (a champion then stays).
Internal indices (silhouette, Davies-Bouldin, Calinski-Harabasz, WCSS) are recorded as
diagnostics, on the newest window, in each candidate's own space.
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
from segments.models.pruning import PRUNED, prune_older_windows
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
    # earlier folds, newest first: (validate, train) one horizon further back each
    earlier: list[tuple[Snapshot, Snapshot | None]] = field(default_factory=list)
    # what the deployed supervised recipes learn from (matured windows pooled,
    # recipes.training_pool); None: the validation snapshot alone
    learn: Snapshot | None = None

    @property
    def deploy_train(self) -> Snapshot:
        """The matured snapshot(s) a deployed supervised recipe learns from."""
        return self.validate if self.learn is None else self.learn

    @property
    def folds(self) -> list[tuple[Snapshot, Snapshot | None]]:
        """Every validation window, newest (fold 0: validate, train) first."""
        return [(self.validate, self.train), *self.earlier]


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


def _missing(recipe: Recipe, frames: list[pd.DataFrame], train: Snapshot | None) -> str:
    """Why a recipe cannot be fitted and judged on these snapshots ('' when it can)."""
    cols = list(recipe.columns)
    if recipe.supervised:
        if train is None:
            return "no matured snapshot before the validation cutoff"
        frames = [*frames, train.frame]
    if not all(usable(f, cols) for f in frames):
        return "its columns are missing or empty at a cutoff"
    return ""


def unavailable(recipe: Recipe, inputs: BacktestInputs) -> str:
    """Why a recipe cannot be fitted, judged on fold 0 and deployed here ('' when it can)."""
    why = _missing(recipe, [inputs.now.frame, inputs.validate.frame], inputs.train)
    if why.startswith("no matured") and inputs.note:
        return inputs.note
    return why


def _fold_scores(
    recipe: Recipe,
    inputs: BacktestInputs,
    config: TrainConfig,
    folds: range | None = None,
    memo: dict[Any, Any] | None = None,
) -> tuple[list[tuple[str, dict[str, float]]], SegmentModel | None, np.ndarray | None]:
    """The recipe fitted at every fold's cutoff it can be (of `folds`; default all, fold 0
    always) and scored on the horizon after it; plus fold 0's model and labels. memo keeps
    each (recipe, fold) once per selection."""
    memo = {} if memo is None else memo
    scored, first = [], (None, None)
    for f in range(len(inputs.folds)) if folds is None else folds:
        v, train = inputs.folds[f]
        if f > 0 and _missing(recipe, [v.frame], train):
            continue  # e.g. a tree, where the history before this fold is too short
        if (recipe.label, f) not in memo:
            model = fit_recipe(recipe, v.frame, train, config)
            labels = assign(model, v)
            cut = v.label.split(" ")[0]
            memo[recipe.label, f] = (cut, outcome_scores(labels, v.y, v.retained), model, labels)
        cut, scores, model, labels = memo[recipe.label, f]
        scored.append((cut, scores))
        if f == 0:
            first = (model, labels)
    return scored, *first


def assign(model: SegmentModel, snap: Snapshot) -> np.ndarray:
    """model.predict(snap.frame), transforming the frame once for the candidates in a row
    that share a fitted preprocessor (every k of a space: recipes.fitted_space)."""
    hit = snap.cache.get("assigned_space")
    if hit is None or hit[0] is not model.preprocessor:
        hit = (model.preprocessor, model.transform(snap.frame))
        snap.cache["assigned_space"] = hit
    return model.predict_transformed(hit[1])


def _older_windows(
    recipes: list[Recipe],
    inputs: BacktestInputs,
    config: TrainConfig,
    newest: dict[int, tuple[list[tuple[str, dict[str, float]]], SegmentModel, np.ndarray]],
    seconds: dict[int, float],
    memo: dict[Any, Any],
    cap: float,
) -> tuple[dict[int, list[tuple[str, dict[str, float]]]], dict[int, str]]:
    """Older windows scored for the candidates that could reach the band (models/pruning.py),
    or for all (prune_older_windows=False); returns every candidate's folds and the pruned.
    seconds[i] gains the time of i's older fits; cap lowers the floor (see select_by_backtest).
    """
    older = range(1, len(inputs.folds))
    scores = {i: list(s) for i, (s, _, _) in newest.items()}
    value = lambda s: round(objective_value(s, config.objective), 6)  # as fold_objectives

    def score_older(i: int) -> dict[str, float]:
        started = time.perf_counter()
        more = _fold_scores(recipes[i], inputs, config, older, memo)[0]
        seconds[i] += time.perf_counter() - started
        scores[i] += more
        return {cut: value(s) for cut, s in more}

    # a candidate judged on fewer windows (a tree where older history is short) is aligned
    # by the levels of those judged on all; pruning would change which those are
    partial = any(
        _missing(recipes[i], [inputs.folds[f][0].frame], inputs.folds[f][1])
        for i in newest
        for f in older
    )
    if not config.prune_older_windows or not len(older) or partial:
        for i in scores:
            score_older(i)
        return scores, {}
    v = inputs.validate

    def band_se(i: int, windows: int) -> float:
        return _newest_se(memo, recipes[i], newest[i][2], v, config) / float(np.sqrt(windows))

    gated = set()
    for i, (s, model, _) in newest.items():
        row = {**s[0][1], "algorithm": recipes[i].algorithm, "noise_share": model.noise_share}
        if not static_gates(pd.Series(row), config):
            gated.add(i)
    _, pruned = prune_older_windows(
        {i: {s[0][0]: value(s[0][1])} for i, (s, _, _) in newest.items()},
        gated,
        score_older,
        _aligned,
        band_se,
        cap,
    )
    return scores, pruned


def _newest_se(
    memo: dict[Any, Any], recipe: Recipe, labels: np.ndarray, v: Snapshot, config: TrainConfig
) -> float:
    """objective_se of a candidate's newest-window labels, once per selection."""
    if ("se", recipe.label) not in memo:
        memo["se", recipe.label] = objective_se(
            labels, v.y, v.retained, config.objective, config.seed
        )
    return memo["se", recipe.label]


def _aligned(folds: dict[int, dict[str, float]]) -> dict[int, float]:
    """aligned_objectives of candidates given as {candidate: {cutoff: objective}}."""
    keys = list(folds)
    table = pd.DataFrame(
        {
            "fold_objectives": [json.dumps(folds[i]) for i in keys],
            "raw_objective": [float(np.mean(list(folds[i].values()))) for i in keys],
        }
    )
    return dict(zip(keys, aligned_objectives(table).tolist(), strict=True))


def evaluate(
    recipes: list[Recipe],
    inputs: BacktestInputs,
    config: TrainConfig,
    memo: dict[Any, Any] | None = None,
    cap: float = float("inf"),
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """Fit every available recipe at each fold's cutoff and score it (rule steps 1-2); the
    older folds only for the candidates that can reach the band or `cap`
    (models/pruning.py). memo: fits and scores kept between calls of one selection."""
    memo = {} if memo is None else memo
    v = inputs.validate
    rows, labelings = [], {}
    newest: dict[int, Any] = {}
    seconds: dict[int, float] = {}
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
        newest[i] = _fold_scores(recipe, inputs, config, range(1), memo)
        seconds[i] = time.perf_counter() - started
        rows.append(row)
    all_folds, pruned = _older_windows(recipes, inputs, config, newest, seconds, memo, cap)
    for row in rows:
        i = row["order"]
        if i not in newest:
            continue
        recipe, folds, (_, model, labels) = recipes[i], all_folds[i], newest[i]
        row["fit_seconds"] = round(seconds[i], 4)
        latest = folds[0][1]
        mean = {key: float(np.mean([s[key] for _, s in folds])) for key in latest}
        if ("diag", recipe.label) not in memo:
            memo["diag", recipe.label] = _diagnostics(model, labels, v, recipe, config)
        row |= {
            f"backtest_{key}": value
            for key, value in mean.items()
            if key not in ("k", "n", "smallest_share")
        }
        row |= {
            "k": latest["k"],
            "n": latest["n"],
            "smallest_share": latest["smallest_share"],  # the gate: on the newest window
            "backtest_explained_variance": mean["eta2"],
            "backtest_folds": len(folds),
            "fold_objectives": json.dumps(
                {cut: round(objective_value(s, config.objective), 6) for cut, s in folds}
            ),
            "selection_mode": inputs.mode,
            "raw_objective": float(
                np.mean([objective_value(s, config.objective) for _, s in folds])
            ),
            "noise_share": float(model.noise_share),
            **memo["diag", recipe.label],
            "gate_failures": pruned.get(i, ""),
        }
        labelings[i] = labels
    table = pd.DataFrame(rows)
    for col in (
        "raw_objective",
        "stability",
        "backtest_eta2",
        "silhouette",
        "wcss",
        "noise_share",
        "fold_objectives",
    ):
        if col not in table:
            table[col] = np.nan
    table["objective"] = aligned_objectives(table)
    return table, labelings


def _diagnostics(
    model: SegmentModel, labels: np.ndarray, v: Snapshot, recipe: Recipe, config: TrainConfig
) -> dict[str, float]:
    """Internal indices, diagnostics only: on fold 0, on a seeded sample."""
    rows_d = learn_rows(v.frame, list(recipe.columns), DIAGNOSTIC_ROWS, config.seed)
    X, labels_d = display_matrix(model, v.frame.iloc[rows_d]), labels[rows_d]
    diag_sample = min(config.silhouette_sample, 1_000)  # a small sample will do
    return {
        "silhouette": silhouette(X, labels_d, diag_sample, config.seed),
        "davies_bouldin": davies_bouldin(X, labels_d),
        "calinski_harabasz": calinski_harabasz(X, labels_d),
        "wcss": wcss(X, labels_d) * len(labels) / len(labels_d),
    }


def aligned_objectives(table: pd.DataFrame) -> pd.Series:
    """Each candidate's mean objective over its folds, with every fold's level aligned to
    fold 0's: windows differ in how predictable they are (a season, a quiet quarter), so a
    candidate judged on fewer folds (a tree, where older history is short) must not win or
    lose by which windows it saw. The shift of a fold is the mean objective over the
    candidates judged on every fold, at fold 0 minus at that fold; with one fold, or none
    judged on all, nothing shifts."""
    folds = [json.loads(f) if isinstance(f, str) else None for f in table["fold_objectives"]]
    cutoffs = sorted({c for f in folds if f for c in f}, reverse=True)
    if len(cutoffs) < 2:
        return table["raw_objective"].astype(float)
    full = [f for f in folds if f and len(f) == len(cutoffs)]
    if not full:
        return table["raw_objective"].astype(float)
    level = {c: float(np.mean([f[c] for f in full])) for c in cutoffs}
    shift = {c: level[cutoffs[0]] - level[c] for c in cutoffs}
    return pd.Series(
        [float(np.mean([v + shift[c] for c, v in f.items()])) if f else np.nan for f in folds],
        index=table.index,
        dtype=float,
    )


def static_gates(row: pd.Series, config: TrainConfig) -> list[str]:
    """The gates a candidate fails before its stability is known (rule step 2)."""
    if str(row.get("gate_failures") or "").startswith(("not evaluated", PRUNED)):
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


def _subsample(
    snap: Snapshot,
    columns: list[str],
    fraction: float,
    rng,
    fit: tuple[int, int] | None = None,
) -> Snapshot:
    """A seeded share of a snapshot's rows, drawn in canonical order (order- and id-free).

    fit=(limit, seed): keep only the rows a fit with that sample limit and seed would learn
    from (recipes.learn_rows of the share): the share is in canonical order, so its own
    canonical order is itself and the fit sees exactly these rows, without the rest of the
    share being copied and hashed again (bootstrap refits at 100,000s of customers)."""
    order = learn_rows(snap.frame, columns, len(snap.frame), 0)
    size = max(2, round(fraction * len(order)))
    idx = order[np.sort(rng.choice(len(order), size=size, replace=False))]
    if fit is not None and len(idx) > fit[0]:
        idx = idx[np.sort(np.random.default_rng(fit[1]).choice(len(idx), fit[0], replace=False))]
    pick = lambda a: None if a is None else np.asarray(a)[idx]
    return Snapshot(
        snap.frame.iloc[idx].reset_index(drop=True),
        pick(snap.y),
        pick(snap.retained),
        window=pick(snap.window),
    )


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
                self.inputs.deploy_train,
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
        now, learn = self.inputs.now, self.inputs.deploy_train
        cols = list(recipe.columns)
        # ARI on a seeded sample of today's customers: an estimate is all the gate needs
        judged = now.frame.iloc[learn_rows(now.frame, cols, STABILITY_ROWS, c.seed)]
        base = self.model(recipe).predict(judged)
        scores = []
        for r in range(c.bootstrap_rounds):
            rng = np.random.default_rng([c.seed, r])
            frame, train, seed = now.frame, learn, c.seed + r + 1
            fit = None if recipe.family == "distill" else (c.fit_sample, seed)
            if recipe.family != "tree":
                frame = _subsample(now, cols, c.bootstrap_fraction, rng, fit).frame
            if recipe.supervised:
                train = _subsample(learn, cols, c.bootstrap_fraction, rng, fit)
            refit = fit_recipe(recipe, frame, train, c, seed=seed)
            scores.append(adjusted_rand_score(base, refit.predict(judged)))
        return float(np.mean(scores))


SE_ROUNDS = 50  # bootstrap resamples of the newest window for the objective's standard error


def objective_se(
    labels: np.ndarray, y: np.ndarray, retained: np.ndarray, objective: str, seed: int
) -> float:
    """Bootstrap standard error of the objective of one assignment on its window: how much
    the score moves with which customers happened to be there. Resampled from the sorted
    (segment, y, retained) triples, so neither row order nor pseudonyms change it."""
    triples = np.column_stack([np.asarray(labels, dtype=float), y, retained])
    triples = triples[np.lexsort(triples.T[::-1])]
    rng = np.random.default_rng([seed, 15])
    values = []
    for _ in range(SE_ROUNDS):
        pick = triples[rng.integers(0, len(triples), len(triples))]
        scores = outcome_scores(pick[:, 0].astype(int), pick[:, 1], pick[:, 2])
        values.append(objective_value(scores, objective))
    return float(np.std(values))


def choose(
    table: pd.DataFrame,
    config: TrainConfig,
    stability_of: Callable[[int], float],
    se_of: Callable[[int], float] | None = None,
) -> tuple[int, bool, pd.DataFrame]:
    """Apply rule steps 2-5; returns the chosen row, whether it passed, and the table.

    se_of(i): the standard error of candidate i's objective (step 3); None: no band."""
    t = table.copy()
    t["gate_failures"] = ["; ".join(static_gates(row, config)) for _, row in t.iterrows()]
    static = t["gate_failures"] == ""
    if not static.any():
        evaluated = t["objective"].notna()
        if not evaluated.any():
            raise ValueError("no candidate could be evaluated on the backtest")
        static = evaluated  # nothing passes: rank every evaluated candidate, flagged below
    if "backtest_retention_spread" not in t:
        t["backtest_retention_spread"] = np.nan
    pool = t[static].assign(_o=-t["objective"].round(9))
    by_objective = pool.sort_values(["_o", "k", "order"]).index.tolist()
    best = by_objective[0]
    se = float(se_of(best)) if se_of is not None else 0.0
    t["band_floor"] = np.nan
    t.loc[best, "band_floor"] = floor = float(t.at[best, "objective"]) - se
    band = pool[pool["objective"] >= floor - 1e-12]
    t["in_band"] = t.index.isin(band.index)
    in_band = (
        band.assign(_s=-band["backtest_retention_spread"].fillna(-1.0).round(9))
        .sort_values(["_s", "k", "_o", "order"])
        .index.tolist()
    )
    ranked = in_band + [i for i in by_objective if i not in set(in_band)]
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
    t.attrs["best"], t.attrs["se"] = int(best), se
    return int(chosen), bool(passed), t


def _separates_most(band: pd.DataFrame, row: pd.Series) -> str:
    """Say so when band members that separate retention more were ruled out by stability.

    The band is ranked by spread, so the chosen one separates most of those that passed the
    stability check; without this the reason overstated it.
    """
    spread = band["backtest_retention_spread"]
    unstable = band[
        (spread > row["backtest_retention_spread"])
        & band["gate_failures"].str.contains("stability", regex=False)
    ]
    if unstable.empty:
        return "it separates retention most"
    more = (
        "one that separates it more fails"
        if len(unstable) == 1
        else (f"{len(unstable)} that separate it more fail")
    )
    return f"it separates retention most of those stable enough ({more} the stability gate)"


def _reason(
    t: pd.DataFrame, chosen: int, passed: bool, inputs: BacktestInputs, config: TrainConfig
) -> str:
    row, best = t.loc[chosen], t.loc[t.attrs["best"]]
    what = OBJECTIVES[config.objective][0]
    windows = ", ".join(v.label.split(" ")[0] for v, _ in inputs.folds)
    band = t[t["in_band"]]
    most = _separates_most(band, row)
    head = (
        f"[{inputs.mode}] Chose {row['candidate']}: of the {len(band)} candidates within one "
        f"standard error of the best objective ({best['candidate']} {best['objective']:.4f}"
        f" - SE {t.attrs['se']:.4f}), {most} (spread "
        f"{row['backtest_retention_spread']:.3f}); objective {row['objective']:.4f} = {what}, "
        f"averaged over {int(row['backtest_folds'])} of {len(inputs.folds)} windows "
        f"(cutoffs {windows}); {int(t['passed_gates'].sum())} of {len(t)} candidates pass "
        f"the gates"
    )
    if row.name == best.name:
        head = (
            f"[{inputs.mode}] Chose {row['candidate']}: the best objective "
            f"({row['objective']:.4f} = {what}, averaged over {int(row['backtest_folds'])} of "
            f"{len(inputs.folds)} windows, cutoffs {windows}) and, of the {len(band)} "
            f"candidates within one standard error ({t.attrs['se']:.4f}) of it, the one that "
            f"{most.removeprefix('it ')} (spread {row['backtest_retention_spread']:.3f}); "
            f"{int(t['passed_gates'].sum())} of {len(t)} candidates pass the gates"
        )
    if not row["in_band"]:
        head = (
            f"[{inputs.mode}] Chose {row['candidate']}: the {len(band)} candidates within one "
            f"standard error ({t.attrs['se']:.4f}) of the best objective ({best['candidate']} "
            f"{best['objective']:.4f}) fail the stability gate, and it has the best objective "
            f"of the rest ({row['objective']:.4f} = {what}, averaged over "
            f"{int(row['backtest_folds'])} of {len(inputs.folds)} windows, cutoffs {windows});"
            f" {int(t['passed_gates'].sum())} of {len(t)} candidates pass the gates"
        )
    if not passed:
        head = (
            f"[{inputs.mode}] No candidate passed every gate; chose {row['candidate']} "
            f"(objective {row['objective']:.4f}), which fails: {row['gate_failures']}"
        )
    scores = (
        f"backtest eta2 {row['backtest_eta2']:.3f}, retention spread "
        f"{row['backtest_retention_spread']:.3f}, smallest segment {row['smallest_share']:.1%}"
        f" (newest window), stability {row['stability']:.2f}"
    )
    parts = [head, scores]
    others = t[t["passed_gates"] & (t["recipe"] != row["recipe"])]
    if len(others):  # the best candidate of another recipe
        runner = others.sort_values(["objective", "k"], ascending=[False, True]).iloc[0]
        parts.append(f"best other recipe {runner['candidate']} ({runner['objective']:.4f})")
    if inputs.note:
        parts.append(inputs.note)
    return "; ".join(parts) + "."


def stable_of(recipe: Recipe, deployer: Deployer, stable: dict[str, float]) -> float:
    """deployer.stability, once per recipe and selection."""
    if recipe.label not in stable:
        stable[recipe.label] = deployer.stability(recipe)
    return stable[recipe.label]


def _choose_once(
    table: pd.DataFrame,
    labelings: dict[int, np.ndarray],
    recipes: list[Recipe],
    config: TrainConfig,
    memo: dict[Any, Any],
    stability: Callable[[Recipe], float],
    v: Snapshot,
) -> tuple[int, bool, pd.DataFrame]:
    """choose() with the band's SE and stability of this evaluation's candidates."""
    order = table["order"].astype(int)

    def se_of(i: int) -> float:
        """The objective's bootstrap SE on the newest window, / sqrt(windows averaged)."""
        se = _newest_se(memo, recipes[order[i]], labelings[order[i]], v, config)
        return se / float(np.sqrt(table.at[i, "backtest_folds"]))

    return choose(table, config, lambda i: stability(recipes[order[i]]), se_of)


def _widen(table: pd.DataFrame, chosen: int, passed: bool, cap: float) -> tuple[float, bool]:
    """Whether a choice made with pruned candidates is the one scoring every candidate gives,
    and if not the floor to score them down to. Pruning keeps the band (models/pruning.py);
    when every candidate of the band fails the stability gate the choice falls to the best
    objective outside it, so the candidates that could beat the chosen one (or, when none
    was stable, all) are scored too and the choice is made again."""
    pruned = table["gate_failures"].fillna("").str.startswith(PRUNED)
    if not pruned.any() or (passed and bool(table.at[chosen, "in_band"])):
        return cap, True
    floor = float(table.at[chosen, "objective"]) if passed else float("-inf")
    return floor, floor >= cap


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
    deployer = Deployer(inputs, config, checksum)
    v = inputs.validate
    memo: dict[Any, Any] = {}
    stable: dict[str, float] = {}
    cap = float("inf")
    while True:
        table, labelings = evaluate(recipes, inputs, config, memo, cap)
        chosen, passed, table = _choose_once(
            table, labelings, recipes, config, memo, lambda r: stable_of(r, deployer, stable), v
        )
        cap, done = _widen(table, chosen, passed, cap)
        if done:
            break
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
        candidates=table.drop(columns=["order", "raw_objective"], errors="ignore"),
        model=model,
        labels=model.predict(inputs.now.frame),
        customer_ids=inputs.now.frame["customer_id"].to_numpy(),
        reason=reason,
        elbow_k=None,
        passed_gates=passed,
        backtest=choice,
    )
