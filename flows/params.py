"""Typed flow parameters: the Prefect UI renders these as forms and refuses bad values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from segments.features import DEFAULT_FEATURE_SET, FeatureSetName
from segments.lifecycle import RetrainMode
from segments.models import Algorithm, TrainConfig

EARLIEST_AS_OF = date(1900, 1, 1)


def plausible_as_of(day: date | None, name: str = "as_of") -> date | None:
    """A run date from 1900 to tomorrow (UTC): features use data strictly before it, so a later
    date has no data yet and would only trip the freshness gate after every stage ran."""
    if day is None:
        return None
    latest = datetime.now(UTC).date() + timedelta(days=1)
    if not EARLIEST_AS_OF <= day <= latest:
        raise ValueError(
            f"{name} {day} is not a plausible run date: use a date from {EARLIEST_AS_OF} to "
            f"{latest} (tomorrow, UTC)"
        )
    return day


class _ModelParams(BaseModel):
    """What every run that computes features and may train shares."""

    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(
        default=None,
        description="Features use data strictly before this date. Empty: today (UTC).",
    )
    feature_set: FeatureSetName = Field(
        default=DEFAULT_FEATURE_SET,
        description="Which feature columns the clustering reads (segments.features.FEATURE_SETS).",
    )
    algorithms: list[Algorithm] = Field(
        default_factory=lambda: ["kmeans"], description="Candidate families to fit.", min_length=1
    )
    k_min: int = Field(default=3, ge=2, le=20, description="Fewest segments marketing can use.")
    k_max: int = Field(default=8, ge=2, le=30, description="Most segments marketing can use.")
    promote: bool = Field(
        default=False,
        description="Make the new model champion even when the promotion rule would keep "
        "the current one (the registry records what the rule said).",
    )

    @field_validator("as_of")
    @classmethod
    def _as_of(cls, value: date | None) -> date | None:
        return plausible_as_of(value)

    @model_validator(mode="after")
    def _k_range(self) -> _ModelParams:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self

    def resolved_as_of(self) -> date:
        """The as_of date the run uses (today in UTC when not given)."""
        return self.as_of or datetime.now(UTC).date()

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(
            k_min=self.k_min, k_max=self.k_max, algorithms=self.algorithms, seed=seed
        )


class NightlyParams(_ModelParams):
    """What a data engineer may set when triggering the nightly run."""

    retrain: RetrainMode = Field(
        default="auto", description="auto: when no champion or it is older than the setting."
    )


class RetrainParams(_ModelParams):
    """Retrain-only run: fits more candidate families by default than the nightly run."""

    algorithms: list[Algorithm] = Field(
        default_factory=lambda: ["kmeans", "agglomerative", "gmm"], min_length=1
    )


class IngestParams(BaseModel):
    """Load one source now."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Built-in source name (e.g. online_retail) or mapping path.")
    path: str = Field(description="File or folder to load (a path on the worker).")


class BackfillParams(BaseModel):
    """Run the nightly pipeline for every as_of in [start, end], every step_days."""

    model_config = ConfigDict(extra="forbid")

    start: date = Field(description="First as_of (YYYY-MM-DD); not before the latest publish.")
    end: date = Field(description="Last as_of (YYYY-MM-DD), at most tomorrow (UTC).")
    step_days: int = Field(default=7, ge=1, le=366)
    retrain: RetrainMode = "auto"
    feature_set: FeatureSetName = DEFAULT_FEATURE_SET

    @field_validator("start", "end")
    @classmethod
    def _dates(cls, value: date, info: Any) -> date:
        return plausible_as_of(value, info.field_name)

    @model_validator(mode="after")
    def _range(self) -> BackfillParams:
        if self.start > self.end:
            raise ValueError(f"start ({self.start}) is after end ({self.end})")
        if len(self.dates()) > 400:
            raise ValueError("more than 400 runs: use a larger step_days or a shorter range")
        return self

    def dates(self) -> list[date]:
        days = (self.end - self.start).days
        return [self.start + timedelta(days=d) for d in range(0, days + 1, self.step_days)]


class ForgetParams(BaseModel):
    """Which customers to erase: raw source ids, given here or in a file on the worker.

    Prefect stores flow parameters in its own database: prefer `ids_file` (one id per line)
    so the ids are not kept there.
    """

    model_config = ConfigDict(extra="forbid")

    customer_ids: list[str] = Field(default_factory=list, description="Raw source ids.")
    ids_file: str | None = Field(default=None, description="A file of raw ids, one a line.")

    @model_validator(mode="after")
    def _some_ids(self) -> ForgetParams:
        if not self.customer_ids and not self.ids_file:
            raise ValueError("give customer_ids or ids_file")
        return self


class RollbackParams(BaseModel):
    """Which registered model version becomes champion again."""

    model_config = ConfigDict(extra="forbid")

    model_version: str = Field(min_length=3, description="A version from ops.model_registry.")


class WatchParams(BaseModel):
    """How the watcher polls landing/ (it runs until stopped: Ctrl-C, SIGTERM, a cancel)."""

    model_config = ConfigDict(extra="forbid")

    interval_seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="Seconds between polls. Empty: SEGMENTS_WATCH_INTERVAL_SECONDS.",
    )
    max_cycles: int | None = Field(
        default=None, ge=1, description="Stop after this many polls. Empty: run until stopped."
    )


def param(parameters: dict[str, Any], key: str) -> Any:
    """One field of the `params` flow parameter, whether Prefect holds a model or a dict."""
    params = parameters.get("params")
    if isinstance(params, BaseModel):
        return getattr(params, key, None)
    return (params or {}).get(key)
