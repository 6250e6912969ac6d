"""Drift at every run: today's features and segment shares against the champion's training.

One ops.drift row per feature of the champion's feature set (kind 'feature') and one for the
segment shares of the champion's assignment today against its training assignment (kind
'segments'), each with its PSI, the thresholds (SEGMENTS_DRIFT_WATCH_PSI, _ACT_PSI) and a
verdict. A verdict of 'act' on any row is a reason to retrain (`--retrain auto`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pandas as pd

from segments.features import FEATURE_SETS
from segments.lifecycle import current_champion
from segments.monitor.psi import psi, share_psi, shares_like, verdict
from segments.monitor.reference import (
    feature_frame,
    load_reference,
    segment_ids,
    segment_shares,
)
from segments.settings import Settings

SEGMENT_SHARES = "segment_shares"  # the ops.drift `feature` of the segment-share row


@dataclass
class Drift:
    """This run's drift rows and what they mean; `skipped` says why there are none."""

    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    skipped: str | None = None
    model_version: str | None = None

    @property
    def acting(self) -> pd.DataFrame:
        """Rows at or above the act threshold, worst first."""
        if self.rows.empty:
            return self.rows
        return self.rows[self.rows["verdict"] == "act"].sort_values("psi", ascending=False)

    @property
    def verdict(self) -> str:
        """'act', 'watch', 'stable' or 'skipped' for the run as a whole."""
        if self.rows.empty:
            return "skipped"
        for level in ("act", "watch"):
            if (self.rows["verdict"] == level).any():
                return level
        return "stable"

    def reason(self) -> str | None:
        """The retrain reason, naming the worst features, when any row says act."""
        acting = self.acting
        if acting.empty:
            return None
        worst = ", ".join(f"{r.feature} {r.psi:.2f}" for r in acting.head(4).itertuples())
        more = f" and {len(acting) - 4} more" if len(acting) > 4 else ""
        threshold = float(acting["threshold"].iloc[0])
        return f"drift: PSI {worst}{more} >= {threshold:g} against {self.model_version}"

    def summary(self) -> dict[str, Any]:
        """What the run records in its details and the event carries."""
        if self.skipped:
            return {"verdict": "skipped", "reason": self.skipped}
        return {
            "verdict": self.verdict,
            "model_version": self.model_version,
            "watch_threshold": float(self.rows["watch_threshold"].iloc[0]),
            "threshold": float(self.rows["threshold"].iloc[0]),
            "psi": {r.feature: round(float(r.psi), 4) for r in self.rows.itertuples()},
            "acting": list(self.acting["feature"]),
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def measure_drift(
    reference: dict[str, Any], frame: pd.DataFrame, today_segments: dict[str, float] | None
) -> list[dict[str, Any]]:
    """PSI per reference feature (and of segment shares) of today's frame."""
    rows = []
    for feature, spec in reference["features"].items():
        values = frame[feature] if feature in frame else pd.Series([None] * len(frame))
        expected, actual = shares_like(values, spec)
        rows.append({"kind": "feature", "feature": feature, "psi": psi(expected, actual)})
    if today_segments is not None and reference.get("segments"):
        rows.append(
            {
                "kind": "segments",
                "feature": SEGMENT_SHARES,
                "psi": share_psi(reference["segments"], today_segments),
            }
        )
    return rows


def detect_drift(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, run_id: str, as_of: date
) -> Drift:
    """Measure and record this run's drift against the champion's training reference."""
    from segments.models import SegmentModel

    champion = current_champion(con)
    if champion is None:
        return Drift(skipped="no champion model yet: nothing to compare with")
    reference = load_reference(champion.artifact_path)
    if reference is None:
        return Drift(
            skipped=f"{champion.model_version} has no training reference (trained before "
            "monitoring); the next trained model saves one",
            model_version=champion.model_version,
        )
    frame = feature_frame(con, FEATURE_SETS[champion.feature_set])
    if frame.empty:
        return Drift(
            skipped=f"no feature rows as of {as_of}", model_version=champion.model_version
        )
    model = SegmentModel.load(champion.artifact_path)
    today = segment_shares(segment_ids(model, frame))
    rows = pd.DataFrame(measure_drift(reference, frame, today))
    rows = rows.assign(
        run_id=run_id,
        as_of=as_of,
        model_version=champion.model_version,
        feature_set=champion.feature_set,
        watch_threshold=settings.drift_watch_psi,
        threshold=settings.drift_act_psi,
        verdict=[
            verdict(v, settings.drift_watch_psi, settings.drift_act_psi) for v in rows["psi"]
        ],
        reference_rows=reference.get("rows"),
        rows=len(frame),
        recorded_at=_now(),
    )
    con.execute("delete from ops.drift where run_id = $r", {"r": run_id})
    con.register("_drift", rows)
    con.execute("insert into ops.drift by name select * from _drift")
    con.unregister("_drift")
    return Drift(rows=rows, model_version=champion.model_version)
