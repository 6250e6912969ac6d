"""Refuse to segment when there is too little data for segments to mean anything."""

from __future__ import annotations

from segments.core.errors import NothingToPublishError


class InsufficientDataError(NothingToPublishError, ValueError):
    """Raised when the input is too small or too short to segment reliably."""


def check_sufficiency(
    n_customers: int,
    history_days: float | None,
    min_customers: int = 50,
    min_history_days: int = 90,
) -> None:
    """Raise InsufficientDataError saying what is missing; history_days=None skips the check."""
    problems: list[str] = []
    if n_customers < min_customers:
        problems.append(
            f"only {n_customers} customers with features (need at least {min_customers}); "
            "load more sources or an earlier as_of, or lower min_customers"
        )
    if history_days is not None and history_days < min_history_days:
        problems.append(
            f"only {history_days:g} days of purchase history (need at least "
            f"{min_history_days}); load older transactions, move as_of later, "
            "or lower min_history_days"
        )
    if problems:
        raise InsufficientDataError("Not enough data to segment: " + "; ".join(problems) + ".")
