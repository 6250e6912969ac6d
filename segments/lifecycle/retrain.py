"""When a run retrains: the modes a caller may ask for and the rules of `auto`.

`auto` retrains when the first of AUTO_RULES gives a reason. Each rule is a small function
of RetrainInputs returning the reason or None, so a new reason (drift, decay) is one more
function in the list (or passed as `extra_rules`). Ages are measured in as-of time: a
champion trained as of 2025-01-01 is 7 days old for a run as of 2025-01-08, whenever the
runs happen (a backfill replays old dates in minutes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal, get_args

from segments.core.errors import RefusedError

if TYPE_CHECKING:
    from segments.lifecycle.registry import Champion

RetrainMode = Literal["auto", "always", "never"]
RETRAIN_MODES: tuple[str, ...] = get_args(RetrainMode)


@dataclass(frozen=True)
class RetrainInputs:
    """What the rules of `auto` may look at (the champion exists when they are asked)."""

    champion: Champion
    feature_set: str
    as_of: date
    max_age_days: int
    monitor_reason: str | None = None  # drift or decay seen by this run's monitoring stage

    @property
    def trained_as_of(self) -> date:
        """The as_of the champion was trained at (its wall-clock day for old registries)."""
        return self.champion.as_of or self.champion.trained_at.date()

    @property
    def age_days(self) -> int:
        return (self.as_of - self.trained_as_of).days


Rule = Callable[[RetrainInputs], str | None]


def feature_set_changed(x: RetrainInputs) -> str | None:
    if x.champion.feature_set != x.feature_set:
        return f"feature set changed ({x.champion.feature_set} -> {x.feature_set})"
    return None


def trained_after_as_of(x: RetrainInputs) -> str | None:
    """A champion trained as of a later date has seen data this run must not use."""
    if x.age_days < 0:
        return (
            f"champion {x.champion.model_version} was trained as of {x.trained_as_of}, "
            f"after this run's as_of {x.as_of}"
        )
    return None


def monitoring_saw_drift(x: RetrainInputs) -> str | None:
    """A drift or decay verdict of this run's monitoring stage (segments.monitor)."""
    return x.monitor_reason or None


def too_old(x: RetrainInputs) -> str | None:
    if x.age_days >= x.max_age_days:
        return (
            f"champion is {x.age_days} days old in as-of time (trained as of "
            f"{x.trained_as_of}; retrain every {x.max_age_days})"
        )
    return None


AUTO_RULES: tuple[Rule, ...] = (
    feature_set_changed,
    trained_after_as_of,
    monitoring_saw_drift,
    too_old,
)


def retrain_due(
    champion: Champion | None,
    mode: RetrainMode,
    feature_set: str,
    as_of: date,
    max_age_days: int,
    monitor_reason: str | None = None,
    *,
    extra_rules: Sequence[Rule] = (),
) -> tuple[bool, str]:
    """Whether this run trains, and why (recorded in the run's details).

    monitor_reason: a drift or decay verdict of this run's monitoring stage
    (segments.monitor), which makes `auto` retrain a champion that is not yet old.
    """
    if mode == "always":
        return True, "retrain=always"
    if champion is None:
        if mode == "never":
            raise RefusedError(
                "retrain=never but no champion model exists yet; run once with "
                "retrain=auto or always"
            )
        return True, "no champion model yet"
    if mode == "never":
        return False, "retrain=never"
    inputs = RetrainInputs(champion, feature_set, as_of, max_age_days, monitor_reason)
    for rule in (*AUTO_RULES, *extra_rules):
        reason = rule(inputs)
        if reason:
            return True, reason
    return False, (
        f"champion {champion.model_version} is {inputs.age_days} days old in as-of time; not due"
    )
