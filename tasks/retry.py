"""Retry only what can succeed later: a busy warehouse or flaky I/O, never a refusal."""

from __future__ import annotations

from typing import Any

from segments.core.errors import is_transient


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """retry_condition_fn for I/O tasks: no retry for a deterministic failure (a bad mapping,
    an as_of before the latest publish, a failed quality gate, a bug)."""
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        try:
            error = state.result(raise_on_failure=False)
        except Exception as raised:  # noqa: BLE001 - judge what reading the result raised
            error = raised
    return not isinstance(error, BaseException) or is_transient(error)
