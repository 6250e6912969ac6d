"""The Prefect events a run emits when monitoring says act, defined once for the flow, the
trigger in prefect.yaml and the tests.

Both concern the champion model as the resource `segments.model.<version>`, so one trigger
(`match: prefect.resource.id: segments.model.*`) can run the `retrain` deployment on either;
the payload carries what the retrain needs (as_of, feature_set) and what was seen.
"""

from __future__ import annotations

from typing import Any

DRIFT_DETECTED = "segments.drift.detected"
MODEL_DECAYED = "segments.model.decayed"
RESOURCE_PREFIX = "segments.model."


def _resource(model_version: str, feature_set: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"{RESOURCE_PREFIX}{model_version}",
        "prefect.resource.name": model_version,
        "segments.feature_set": feature_set,
    }


def monitor_events(
    details: dict[str, Any], *, run_id: str, as_of: str, feature_set: str
) -> list[dict[str, Any]]:
    """Keyword arguments of prefect.events.emit_event, one per act verdict of a run."""
    events = []
    drift = details.get("drift", {})
    if drift.get("verdict") == "act":
        version = drift["model_version"]
        events.append(
            {
                "event": DRIFT_DETECTED,
                "resource": _resource(version, feature_set),
                "payload": {
                    "run_id": run_id,
                    "as_of": as_of,
                    "feature_set": feature_set,
                    "model_version": version,
                    "features": {f: drift["psi"][f] for f in drift["acting"]},
                    "threshold": drift["threshold"],
                    "psi": drift["psi"],
                },
            }
        )
    decay = details.get("decay", {})
    if decay.get("verdict") == "decayed":
        version = decay["model_version"]
        events.append(
            {
                "event": MODEL_DECAYED,
                "resource": _resource(version, feature_set),
                "payload": {
                    "run_id": run_id,
                    "as_of": as_of,
                    "feature_set": feature_set,
                    "model_version": version,
                    **{
                        k: decay[k]
                        for k in (
                            "publish_as_of",
                            "explained_variance",
                            "train_explained_variance",
                            "retention_spread",
                            "train_retention_spread",
                            "max_drop",
                        )
                    },
                },
            }
        )
    return events
