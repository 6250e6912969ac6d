"""When a run retrains: the modes a caller may ask for and the rule for `auto`."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal, get_args

from segments.core.errors import RefusedError

if TYPE_CHECKING:
    from segments.lifecycle.registry import Champion

# auto: when there is no champion, the feature set changed, monitoring saw drift or decay,
# or the champion is old enough.
RetrainMode = Literal["auto", "always", "never"]
RETRAIN_MODES: tuple[str, ...] = get_args(RetrainMode)


def retrain_due(
    champion: Champion | None,
    mode: RetrainMode,
    feature_set: str,
    as_of: date,
    max_age_days: int,
    monitor_reason: str | None = None,
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
    if champion.feature_set != feature_set:
        return True, f"feature set changed ({champion.feature_set} -> {feature_set})"
    if monitor_reason:
        return True, monitor_reason
    age = (as_of - champion.trained_at.date()).days
    if age >= max_age_days:
        return True, f"champion is {age} days old (retrain every {max_age_days})"
    return False, f"champion {champion.model_version} is {age} days old; not due"
