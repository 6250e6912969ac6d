"""Typed flow parameters: the Prefect UI renders these as forms and refuses bad values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from segments.models import TrainConfig

Algorithm = Literal["kmeans", "agglomerative", "gmm", "dbscan", "hdbscan"]


class NightlyParams(BaseModel):
    """What a data engineer may set when triggering the nightly run."""

    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(
        default=None,
        description="Features use data strictly before this date. Empty: today (UTC).",
    )
    retrain: Literal["auto", "always", "never"] = Field(
        default="auto", description="auto: when no champion or it is older than the setting."
    )
    feature_set: Literal["retail", "demographic"] = Field(
        default="retail", description="retail: behaviour and value; demographic: Mall-style."
    )
    algorithms: list[Algorithm] = Field(
        default_factory=lambda: ["kmeans"], description="Candidate families to fit.", min_length=1
    )
    k_min: int = Field(default=3, ge=2, le=20, description="Fewest segments marketing can use.")
    k_max: int = Field(default=8, ge=2, le=30, description="Most segments marketing can use.")

    @model_validator(mode="after")
    def _k_range(self) -> NightlyParams:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self

    def resolved_as_of(self) -> date:
        """The as_of date the run uses (today in UTC when not given)."""
        return self.as_of or datetime.now(UTC).date()

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(k_min=self.k_min, k_max=self.k_max, algorithms=self.algorithms,
                           seed=seed)
