"""Feature spaces: the clipped log keeps the tails a rank evens out, without letting a
single outlier take a segment of its own; two-output trees learn value and retention."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_backtest_select import CONFIG, NUMERIC, customers

from segments.models import Recipe, Snapshot, fit_recipe
from segments.models.spaces import TAIL, SpaceTransformer


def _buyers(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Skewed RFM with a 3% block of heavy buyers and a few wholesalers far beyond them."""
    rng = np.random.default_rng(seed)
    heavy = rng.random(n) < 0.03
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "recency_days": rng.integers(1, 400, n),
            "frequency": np.where(heavy, rng.integers(40, 60, n), 1 + rng.poisson(2, n)),
            "monetary": np.round(rng.lognormal(5, 1, n) * np.where(heavy, 20, 1), 2),
        }
    )
    # 0.6% wholesalers, far beyond everyone: under plain log they form a segment of their own
    frame.loc[:11, ["frequency", "monetary", "recency_days"]] = [5_000, 5.0e7, 1]
    return frame


def test_clipped_log_bounds_each_column_at_its_training_tails() -> None:
    frame = _buyers()
    space = SpaceTransformer("clog").fit(frame[NUMERIC])
    logged = np.log1p(frame[NUMERIC].to_numpy(dtype=float))
    lo, hi = np.quantile(logged, [TAIL, 1 - TAIL], axis=0)
    X = space.transform(frame[NUMERIC])
    raw = X * space.scale_ + space.mean_
    assert (raw >= lo - 1e-9).all() and (raw <= hi + 1e-9).all()
    # new rows beyond the training tails land on the bound, not further out
    far = pd.DataFrame([[0, 10**6, 10.0**9]], columns=NUMERIC)
    assert np.allclose(space.transform(far) * space.scale_ + space.mean_, [lo[0], hi[1], hi[2]])
    # inside the tails it is the plain log, standardised
    inside = ((logged > lo) & (logged < hi)).all(axis=1)
    assert np.allclose(raw[inside], logged[inside])


def test_wholesalers_get_no_segment_of_its_own_but_heavy_buyers_do() -> None:
    frame = _buyers()
    sizes = {}
    for transform in ("log", "clog"):
        recipe = Recipe("cluster", "kmeans", "rfm", tuple(NUMERIC), transform, 6)
        labels = fit_recipe(recipe, frame, None, CONFIG).predict(frame)
        sizes[transform] = np.bincount(labels) / len(labels)
        heavy = frame["frequency"].between(40, 60)
        # the heavy buyers are kept together in a segment of their own (the tails kept)
        top = np.bincount(labels[heavy.to_numpy()]).argmax()
        assert (labels[heavy.to_numpy()] == top).mean() > 0.9, transform
    assert sizes["log"].min() < 0.02 <= sizes["clog"].min()  # log: a segment of outliers


def test_a_value_and_retention_tree_splits_on_who_comes_back() -> None:
    """Retention that value does not show (a group that buys again, small): the two-output
    tree separates it, the value tree does not spend a split there."""
    frame, y, retained = customers(3000, 1)
    train = Snapshot(frame, y, retained)
    recipes = {
        target: Recipe("tree", "tree", "rfm", tuple(NUMERIC), "raw", 4, target=target)
        for target in ("value", "value+retention")
    }
    assert recipes["value+retention"].name == "tree[rfm; value+retention]"
    spread = {}
    for target, recipe in recipes.items():
        labels = fit_recipe(recipe, frame, train, CONFIG).predict(frame)
        rates = [retained[labels == s].mean() for s in np.unique(labels)]
        spread[target] = max(rates) - min(rates)
    assert spread["value+retention"] >= spread["value"] - 1e-9
    # the recipe survives the registry's JSON round trip (older recipes have no target)
    data = recipes["value+retention"].as_dict()
    assert Recipe.from_dict(data) == recipes["value+retention"]
    old = {k: v for k, v in recipes["value"].as_dict().items() if k != "target"}
    assert Recipe.from_dict(old) == recipes["value"]
