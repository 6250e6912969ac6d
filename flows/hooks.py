"""Flow state hooks: a failed run says what failed and what is still served."""

from __future__ import annotations

import logging
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate

from segments.core.failures import failure_report
from segments.settings import Settings

log = logging.getLogger(__name__)


def run_id_of(flow_run: Any) -> str:
    """The pipeline's run id for a Prefect flow run (the flow computes the same)."""
    return str(flow_run.id).replace("-", "")[:12]


def record_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure hook: mark the run failed in ops.runs and publish a failure artifact.

    Hooks run outside the flow run's context, so the artifact names its flow run itself
    (create_markdown_artifact would leave flow_run_id empty).
    """
    run_id = run_id_of(flow_run)
    try:
        markdown = failure_report(Settings(), run_id, str(state.message or state.name))
        with get_client(sync_client=True) as client:
            client.create_artifact(
                artifact=ArtifactCreate(
                    type="markdown",
                    key="nightly-failure",
                    description=f"Run {run_id} failed",
                    data=markdown,
                    flow_run_id=flow_run.id,
                )
            )
    except Exception:  # a hook must never hide the original failure
        log.warning("could not record the failure of run %s", run_id, exc_info=True)
