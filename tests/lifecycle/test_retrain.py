"""When `--retrain auto` retrains: ages in as-of time, and rules that are easy to add."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from segments.core.errors import RefusedError
from segments.lifecycle import AUTO_RULES, RetrainInputs, retrain_due
from segments.lifecycle.registry import Champion

# trained on a wall-clock day long after the as_of it was trained at (a backfill)
CHAMPION = Champion(
    "m1", "retail", datetime(2026, 3, 1, 2), Path("m1.joblib"), 5, date(2025, 1, 1)
)


def test_age_is_measured_in_as_of_time_not_wall_clock() -> None:
    due, why = retrain_due(CHAMPION, "auto", "retail", date(2025, 1, 5), 7)
    assert not due and "4 days old in as-of time" in why
    due, why = retrain_due(CHAMPION, "auto", "retail", date(2025, 1, 8), 7)
    assert due and why.startswith("champion is 7 days old in as-of time")


def test_a_champion_trained_after_the_run_as_of_retrains() -> None:
    due, why = retrain_due(CHAMPION, "auto", "retail", date(2024, 2, 7), 7)
    assert due
    assert why == "champion m1 was trained as of 2025-01-01, after this run's as_of 2024-02-07"


def test_modes_and_the_feature_set_rule() -> None:
    assert retrain_due(CHAMPION, "always", "retail", date(2025, 1, 2), 7) == (
        True,
        "retrain=always",
    )
    assert retrain_due(CHAMPION, "never", "retail", date(2030, 1, 1), 7)[0] is False
    assert retrain_due(None, "auto", "retail", date(2025, 1, 2), 7) == (
        True,
        "no champion model yet",
    )
    with pytest.raises(RefusedError, match="no champion model exists yet"):  # exit 6
        retrain_due(None, "never", "retail", date(2025, 1, 2), 7)
    due, why = retrain_due(CHAMPION, "auto", "retail_web", date(2025, 1, 2), 7)
    assert due and why == "feature set changed (retail -> retail_web)"


def test_a_new_reason_is_one_more_rule() -> None:
    def drifted(x: RetrainInputs) -> str | None:
        return "features drifted" if x.as_of.month == 1 else None

    assert len(AUTO_RULES) == 4
    due, why = retrain_due(CHAMPION, "auto", "retail", date(2025, 1, 3), 7, extra_rules=[drifted])
    assert (due, why) == (True, "features drifted")
    assert not retrain_due(CHAMPION, "auto", "retail", date(2025, 1, 3), 7)[0]


def test_a_monitoring_verdict_retrains_a_young_champion() -> None:
    due, why = retrain_due(CHAMPION, "auto", "retail", date(2025, 1, 3), 7, "drift: psi 0.3")
    assert (due, why) == (True, "drift: psi 0.3")


def test_an_old_registry_without_as_of_falls_back_to_the_training_day() -> None:
    old = Champion("m0", "retail", datetime(2025, 1, 1, 2), Path("m0.joblib"), 5)
    assert "3 days old" in retrain_due(old, "auto", "retail", date(2025, 1, 4), 7)[1]
