"""The one typed place where configuration enters: environment variables prefixed SEGMENTS_."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Pipeline settings; every path the pipeline writes hangs off `home`."""

    model_config = SettingsConfigDict(env_prefix="SEGMENTS_", extra="ignore")

    home: Path = Field(default=Path(".segments"), description="Root of everything written.")
    pii_key: SecretStr | None = Field(default=None, description="HMAC key for PII columns.")
    seed: int = Field(default=42, description="Seed for every random choice.")
    environment: Literal["demo", "production"] = Field(
        default="demo",
        description="production refuses to run without a SEGMENTS_PII_KEY of 32+ bytes.",
    )
    file_access: Literal["owner", "group"] = Field(
        default="owner",
        description="Who may read what is written under home: owner (files 600, folders 700) "
        "or group (640/750, e.g. a BI service account or analysts opening the report).",
    )
    project_dir: Path = Field(
        default=PROJECT_DIR, description="Where warehouse/ and expectations/ live."
    )
    currency: str = Field(
        default="GBP",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of every money column (names carry no currency).",
    )
    date_floor: date = Field(
        default=date(2000, 1, 1),
        description="Lines dated before it are quarantined (a mapping's date_floor wins).",
    )
    max_quarantine_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="A load quarantining a larger share of its lines fails (rows still kept).",
    )
    processed_retention_days: int = Field(
        default=30,
        ge=0,
        description="Loaded landing files wait in landing/<source>/_processed/ this many "
        "days, then are deleted (0: at once).",
    )
    min_customers: int = Field(default=50, description="Refuse to train on fewer customers.")
    min_history_days: int = Field(default=90, description="Refuse to train on less history.")
    retrain_every_days: int = Field(default=7, description="retrain=auto refits this often.")
    model_threads: int = Field(
        default=1, description="scikit-learn threads; >1 oversubscribes small machines."
    )
    lock_timeout_seconds: float = Field(
        default=3600, description="How long a run waits for another run to release the warehouse."
    )
    clv_horizon_months: int = Field(default=12, description="Probabilistic CLV horizon.")
    clv_monthly_discount_rate: float = Field(default=0.01, description="CLV discounting.")
    clv_margin: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Gross margin as a fraction of net revenue, for predicted_clv.",
    )
    clv_expected_lifetime_months: float = Field(
        default=24,
        gt=0,
        description="Months a customer keeps buying at the current rate, for predicted_clv.",
    )
    # Monitoring (segments/monitor/): drift, model decay, segment KPIs, campaign uplift.
    drift_watch_psi: float = Field(
        default=0.1, gt=0, description="PSI from which a feature's drift is worth watching."
    )
    drift_act_psi: float = Field(
        default=0.25, gt=0, description="PSI from which drift is acted on (auto retrain, event)."
    )
    decay_max_drop: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="Relative drop of the matured re-score against the training backtest "
        "(explained variance or retention spread) that counts as model decay.",
    )
    monitor_horizon_days: int = Field(
        default=90,
        ge=1,
        description="Days after a publish over which retention and decay are measured "
        "(the backtest's horizon by default, so the two compare like with like).",
    )
    kpi_window_days: int = Field(
        default=28, ge=1, description="Trailing days of revenue and orders in segment KPIs."
    )
    uplift_confidence: float = Field(
        default=0.95, gt=0.5, lt=1, description="Confidence level of campaign uplift intervals."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="X-API-Key that `segments api` requires (required in production).",
    )
    watch_interval_seconds: float = Field(
        default=5,
        gt=0,
        le=3600,
        description="How often `segments watch` polls landing/; a file loads once its size "
        "and mtime stayed the same for one interval.",
    )
    threads: int | None = Field(default=None, description="DuckDB threads (None: all cores).")
    memory_limit: str | None = Field(
        default="1GB",
        description="DuckDB memory_limit; past it DuckDB spills to disk (10M-line ingest "
        "peaked at 13.6 GB without a limit). Empty: DuckDB's default, 80% of RAM.",
    )

    @model_validator(mode="after")
    def _drift_thresholds(self) -> Settings:
        if self.drift_act_psi < self.drift_watch_psi:
            raise ValueError(
                f"drift_act_psi ({self.drift_act_psi}) must not be below drift_watch_psi "
                f"({self.drift_watch_psi})"
            )
        return self

    def model_post_init(self, context: object, /) -> None:
        """Anchor a relative home to an absolute path once, so tasks agree on it."""
        self.home = self.home.expanduser().resolve()

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def serving_path(self) -> Path:
        return self.home / "serving.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def sql_dir(self) -> Path:
        return self.project_dir / "warehouse"

    @property
    def expectations_dir(self) -> Path:
        return self.project_dir / "expectations"
