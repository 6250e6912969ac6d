"""`segments serve`: every deployment of prefect.yaml, with its schedule, from one process.

prefect.yaml stays the single description of deployments; this reads it, so `serve` and
`prefect deploy --all` + a worker run the same flows with the same parameters and schedules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def deployment_specs(project_dir: Path) -> list[dict[str, Any]]:
    """The deployments of prefect.yaml with YAML anchors resolved."""
    config = yaml.safe_load((project_dir / "prefect.yaml").read_text())
    return list(config.get("deployments") or [])


def build_deployments(project_dir: Path, timezone: str | None = None) -> list[Any]:
    """RunnerDeployments for prefect.serve; `timezone` overrides every schedule's zone."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.flows import load_flow_from_entrypoint
    from prefect.schedules import Cron

    deployments = []
    for spec in deployment_specs(project_dir):
        path, func = spec["entrypoint"].split(":")
        flow = load_flow_from_entrypoint(f"{project_dir / path}:{func}")
        schedules = [
            Cron(
                s["cron"],
                timezone=timezone or s.get("timezone", "UTC"),
                active=s.get("active", True),
            )
            for s in spec.get("schedules") or []
        ]
        limit = spec.get("concurrency_limit")
        triggers = [_trigger(t) for t in spec.get("triggers") or []]
        deployments.append(
            flow.to_deployment(
                name=spec["name"],
                description=spec.get("description"),
                tags=spec.get("tags"),
                parameters=spec.get("parameters"),
                schedules=schedules or None,
                concurrency_limit=ConcurrencyLimitConfig(**limit)
                if isinstance(limit, dict)
                else limit,
                triggers=triggers or None,
            )
        )
    return deployments


def _trigger(spec: dict[str, Any]) -> Any:
    """A prefect.yaml trigger as the deployment trigger `prefect deploy` would create."""
    from prefect.events import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    return TypeAdapter(DeploymentTriggerTypes).validate_python(spec)


def serve(project_dir: Path, timezone: str | None = None) -> None:
    """Block, serving every deployment (Ctrl-C stops)."""
    from prefect import serve as prefect_serve

    prefect_serve(*build_deployments(project_dir, timezone))
