"""Work shared between fits gives exactly the fits done from scratch: one fitted space per
space and frame, and bootstrap refits that copy only the rows they learn from."""

from __future__ import annotations

import numpy as np
import pytest
from test_backtest_select import CONFIG, customers

from segments.models import Recipe, Snapshot, fit_recipe
from segments.models.backtest_select import _subsample, assign
from segments.models.spaces import RFM_COLUMNS

SMALL = CONFIG.model_copy(update={"fit_sample": 500})
LOG_RFM = [Recipe("cluster", "kmeans", "rfm", RFM_COLUMNS, "log", k) for k in (3, 4)]
TREE = Recipe("tree", "tree", "rfm", RFM_COLUMNS, "raw", 4)


def test_the_ks_of_a_space_share_one_fitted_transform_equal_to_a_fresh_one() -> None:
    frame, y, kept = customers(2_000, 11)
    a, b = (fit_recipe(r, frame, None, SMALL) for r in LOG_RFM)
    assert a.preprocessor is b.preprocessor  # fitted once for both ks
    fresh = fit_recipe(LOG_RFM[1], frame.copy(), None, SMALL)  # another frame: fitted anew
    assert fresh.preprocessor is not b.preprocessor
    np.testing.assert_array_equal(fresh.predict(frame), b.predict(frame))
    np.testing.assert_array_equal(fresh.centroids, b.centroids)
    # assigning through the shared transform is predicting
    snap = Snapshot(frame, y, kept)
    for model in (a, b, fresh):
        np.testing.assert_array_equal(assign(model, snap), model.predict(frame))


@pytest.mark.parametrize("recipe", [LOG_RFM[1], TREE])
def test_a_bootstrap_refit_on_the_trimmed_share_is_the_refit_on_the_whole_share(
    recipe: Recipe,
) -> None:
    frame, y, kept = customers(3_000, 12)
    snap = Snapshot(frame, y, kept)
    cols = list(recipe.columns)
    seed = 99
    whole = _subsample(snap, cols, 0.8, np.random.default_rng([1, 2]))
    trimmed = _subsample(snap, cols, 0.8, np.random.default_rng([1, 2]), (500, seed))
    assert len(whole.frame) == 2_400 and len(trimmed.frame) == 500
    if recipe.supervised:
        refits = [fit_recipe(recipe, frame, s, SMALL, seed=seed) for s in (whole, trimmed)]
    else:
        refits = [fit_recipe(recipe, s.frame, None, SMALL, seed=seed) for s in (whole, trimmed)]
    np.testing.assert_array_equal(refits[0].predict(frame), refits[1].predict(frame))
    np.testing.assert_array_equal(refits[0].centroids, refits[1].centroids)
