"""Known failures and their exit codes: the one table README and docs/operations.md show.

A known failure is one clear message (what is wrong, what to do) and a documented exit code;
the command line prints it on one line and shows a traceback only with `--debug`. Stage code
raises these (or subclasses of them); anything else is unexpected (exit 1).

`transient` says whether trying again later can succeed: tasks retry only transient failures,
never a deterministic refusal (publishing before the latest publish, a bad mapping ...).
"""

from __future__ import annotations

EXIT_CODES: dict[int, str] = {
    0: "done",
    1: "unexpected error (a bug or the machine: disk full, ...); rerun with --debug and report it",
    2: "bad arguments, settings or mapping: fix the named value and rerun",
    3: "a data-quality gate stopped the run (critical expectation failed); nothing was published",
    4: "a load failed (unreadable file, too many quarantined lines); rows are still recorded",
    5: "nothing to publish: not enough data to segment, or no customer scored",
    6: "refused: the request can never succeed as asked (an as_of before the latest publish, "
    "an unpublished date, an unknown model version)",
    75: "busy: another run holds the warehouse lock, or another process holds "
    "warehouse.duckdb open; retry later",
    130: "interrupted (Ctrl-C)",
}


class SegmentsError(Exception):
    """A failure we know and can explain in one message."""

    exit_code = 1
    transient = False


class ConfigError(SegmentsError, ValueError):
    """Bad arguments, settings or mapping (exit 2)."""

    exit_code = 2


class QualityGateError(SegmentsError, RuntimeError):
    """A critical expectation failed; the last good segments stay served (exit 3)."""

    exit_code = 3


class LoadFailedError(SegmentsError, RuntimeError):
    """A load could not complete as asked (exit 4)."""

    exit_code = 4


class NothingToPublishError(SegmentsError, RuntimeError):
    """Too little data to segment, or no customer scored (exit 5)."""

    exit_code = 5


class RefusedError(SegmentsError, ValueError):
    """A deterministic refusal: retrying the same request cannot succeed (exit 6)."""

    exit_code = 6


class BusyError(SegmentsError, RuntimeError):
    """The warehouse is held by someone else; the same request can succeed later (exit 75)."""

    exit_code = 75
    transient = True


def exit_code_of(error: BaseException) -> int:
    """The documented exit code of a failure (1 when it is not a known one)."""
    if isinstance(error, KeyboardInterrupt):
        return 130
    return getattr(error, "exit_code", 1) if isinstance(error, SegmentsError) else 1


def is_transient(error: BaseException) -> bool:
    """Whether a retry may succeed: known failures say so; deterministic bugs never do."""
    if isinstance(error, SegmentsError):
        return error.transient
    return not isinstance(error, ValueError | KeyError | TypeError | AttributeError | LookupError)
