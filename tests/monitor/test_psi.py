"""PSI: zero for the same distribution, large for a shift, missing values and new categories
count as drift; verdicts follow the two thresholds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segments.monitor.psi import psi, reference_of, share_psi, shares_like, verdict


def test_same_values_give_zero_and_a_shift_gives_a_large_psi():
    rng = np.random.default_rng(1)
    train = pd.Series(rng.lognormal(3, 1, 5_000))
    ref = reference_of(train)
    assert len(ref["edges"]) == 9 and sum(ref["shares"]) == pytest.approx(1.0)
    assert psi(*shares_like(train, ref)) == pytest.approx(0.0, abs=1e-12)
    same_law = pd.Series(rng.lognormal(3, 1, 5_000))
    assert psi(*shares_like(same_law, ref)) < 0.02
    doubled = train * 2
    assert psi(*shares_like(doubled, ref)) > 0.25


def test_ties_collapse_bins_and_missing_values_have_their_own_bin():
    counts = pd.Series([1] * 600 + [2] * 200 + [3] * 100 + [None] * 100, dtype="float")
    ref = reference_of(counts)
    assert ref["edges"] == [1.0, 2.0, 3.0]
    assert ref["null_share"] == pytest.approx(0.1)
    expected, actual = shares_like(counts, ref)
    assert expected.tolist() == pytest.approx([0.6, 0.2, 0.1, 0.0, 0.1])
    assert actual.tolist() == pytest.approx(expected.tolist())
    gone = pd.Series([None] * 500 + [1] * 500, dtype="float")  # a feed half lost
    assert psi(*shares_like(gone, ref)) > 0.25


def test_categories_unseen_in_training_fall_in_other():
    ref = reference_of(pd.Series(["F"] * 50 + ["M"] * 50))
    expected, actual = shares_like(pd.Series(["F"] * 50 + ["X"] * 50), ref)
    assert expected.tolist() == pytest.approx([0.5, 0.5, 0.0, 0.0])
    assert actual.tolist() == pytest.approx([0.5, 0.0, 0.5, 0.0])


@given(
    st.lists(st.floats(0.01, 1), min_size=2, max_size=12),
    st.lists(st.floats(0.01, 1), min_size=2, max_size=12),
)
def test_psi_matches_its_definition(a, b):
    n = min(len(a), len(b))
    e = np.array(a[:n]) / sum(a[:n])
    x = np.array(b[:n]) / sum(b[:n])
    reference = sum((xi - ei) * math.log(xi / ei) for ei, xi in zip(e, x))
    assert psi(e, x) == pytest.approx(reference, rel=1e-9, abs=1e-12)
    assert psi(e, x) >= 0


def test_segment_share_psi_and_verdicts():
    assert share_psi({"1": 0.5, "2": 0.5}, {"1": 0.5, "2": 0.5}) == 0
    assert share_psi({"1": 0.5, "2": 0.5}, {"1": 0.9, "3": 0.1}) > 0.25
    assert [verdict(v, 0.1, 0.25) for v in (0.05, 0.1, 0.2, 0.25, 3)] == [
        "stable",
        "watch",
        "watch",
        "act",
        "act",
    ]
