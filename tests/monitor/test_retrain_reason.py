"""A monitoring verdict is a reason for `auto` to retrain a champion that is not yet old;
`never` still never trains, and an old champion keeps its own reason absent a verdict."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from segments.lifecycle import Champion, retrain_due

CHAMPION = Champion("m1", "retail", datetime(2026, 1, 1), Path("m1.joblib"), 4)
DAY = date(2026, 1, 3)


def test_monitor_reason_makes_auto_retrain():
    assert retrain_due(CHAMPION, "auto", "retail", DAY, 7) == (
        False,
        "champion m1 is 2 days old in as-of time; not due",
    )
    reason = "drift: PSI monetary 0.41 >= 0.25 against m1"
    assert retrain_due(CHAMPION, "auto", "retail", DAY, 7, reason) == (True, reason)
    assert retrain_due(CHAMPION, "never", "retail", DAY, 7, reason) == (False, "retrain=never")
    assert retrain_due(CHAMPION, "always", "retail", DAY, 7, reason) == (True, "retrain=always")
