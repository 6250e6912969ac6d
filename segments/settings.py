"""The one typed place where configuration enters: environment variables prefixed SEGMENTS_.

Every value has a range or a format, so a bad one stops a command before any work with one
line naming the variable (`segments.cli` turns the ValidationError into that line, exit 2).
tests/test_settings.py checks that every field declares its bounds.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parents[1]
ENV_PREFIX = "SEGMENTS_"
# DuckDB's memory_limit units (1000^i and 1024^i); a bare number or a percentage is refused.
MEMORY_LIMIT = re.compile(r"^\s*(\d+(\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


class Settings(BaseSettings):
    """Pipeline settings; every path the pipeline writes hangs off `home`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    home: Path = Field(default=Path(".segments"), description="Root of everything written.")
    pii_key: SecretStr | None = Field(default=None, description="HMAC key for PII columns.")
    seed: int = Field(default=42, ge=0, le=2**32 - 1, description="Seed for every random choice.")
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
        ge=date(1900, 1, 1),
        description="Lines dated before it are quarantined (a mapping's date_floor wins).",
    )
    max_quarantine_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="A load quarantining a larger share of its lines fails (rows still kept).",
    )
    processed_retention_days: int = Field(
        default=30,
        ge=0,
        le=36_500,
        description="Loaded landing files wait in landing/<source>/_processed/ this many "
        "days, then are deleted (0: at once).",
    )
    min_customers: int = Field(
        default=50, ge=2, le=10**9, description="Refuse to train on fewer customers."
    )
    min_history_days: int = Field(
        default=90, ge=0, le=36_500, description="Refuse to train on less history."
    )
    train_rows: int = Field(
        default=1_000_000,
        ge=100,
        le=1_000_000_000,
        description="Most customers a training reads; above it a seeded sample by a hash of "
        "customer_id (the same rows in one process and on customer buckets).",
    )
    retrain_every_days: int = Field(
        default=7, ge=0, le=3650, description="retrain=auto refits this often (0: every run)."
    )
    model_threads: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="scikit-learn threads; >1 oversubscribes small machines.",
    )
    lock_timeout_seconds: float = Field(
        default=3600,
        ge=0,
        le=7 * 86_400,
        allow_inf_nan=False,
        description="How long a run waits for another run to release the warehouse.",
    )
    clv_horizon_months: int = Field(
        default=12, ge=1, le=120, description="Probabilistic CLV horizon."
    )
    clv_monthly_discount_rate: float = Field(
        default=0.01, ge=0, lt=1, allow_inf_nan=False, description="CLV discounting."
    )
    clv_margin: float = Field(
        default=0.3,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Gross margin as a fraction of net revenue, for predicted_clv.",
    )
    clv_expected_lifetime_months: float = Field(
        default=24,
        gt=0,
        le=1200,
        allow_inf_nan=False,
        description="Months a customer keeps buying at the current rate, for predicted_clv.",
    )
    # Monitoring (segments/monitor/): drift, model decay, segment KPIs, campaign uplift.
    drift_watch_psi: float = Field(
        default=0.1, gt=0, le=10, description="PSI from which a feature's drift is worth watching."
    )
    drift_act_psi: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="PSI from which drift is acted on (auto retrain, event).",
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
        le=3650,
        description="Days after a publish over which retention and decay are measured "
        "(the backtest's horizon by default, so the two compare like with like).",
    )
    kpi_window_days: int = Field(
        default=28,
        ge=1,
        le=3650,
        description="Trailing days of revenue and orders in segment KPIs.",
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
    threads: int | None = Field(
        default=None, ge=1, le=1024, description="DuckDB threads (None: all cores)."
    )
    memory_limit: str | None = Field(
        default="1GB",
        pattern=MEMORY_LIMIT.pattern,
        description="DuckDB memory_limit, e.g. 1GB or 512MiB; past it DuckDB spills to disk "
        "(10M-line ingest peaked at 13.6 GB without a limit). Empty: DuckDB's default, 80% of RAM.",
    )
    partitions: int = Field(
        default=1,
        ge=1,
        le=4096,
        description="Customer-hash buckets; above 1 the per-bucket features and scoring run "
        "on Dask (a LocalCluster, or SEGMENTS_DASK_ADDRESS). 1: one process, as before.",
    )
    dask_address: str | None = Field(
        default=None,
        pattern=r"^(tcp|tls|ucx|ws|wss|inproc)://\S+$",
        description="An existing Dask scheduler (tcp://host:8786); none: a LocalCluster when "
        "SEGMENTS_PARTITIONS > 1.",
    )
    dask_workers: int = Field(
        default=2, ge=1, le=1024, description="Workers of the LocalCluster (one thread each)."
    )
    bucket_lake: str | None = Field(
        default=None,
        # an absolute path or a URL: a relative one would follow each worker's folder
        pattern=r"^(/.*|[a-z][a-z0-9+.-]*://.+)$",
        description="Where the bucket Parquet lives, a path or an fsspec-style URL (file://, "
        "s3://...); none: SEGMENTS_HOME/lake/buckets. Workers read and write only here.",
    )
    data_docs: Literal["on_failure", "always"] = Field(
        default="on_failure",
        description="When a validation stage builds Great Expectations Data Docs: on_failure "
        "(a stage with a failed expectation, critical or warning) or always (every stage; "
        "about a second a stage). Results are in ops.dq_results either way.",
    )
    report_retention_runs: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description="Run folders kept under reports/ (report and Data Docs, ~10 MB a run); "
        "older ones are deleted after each report.",
    )

    @field_validator("home", "project_dir", mode="before")
    @classmethod
    def _path_given(cls, value: Any) -> Any:
        """An empty path would mean the current folder: refuse it rather than write there."""
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "must not be empty (an empty path would write into the current folder)"
            )
        if isinstance(value, str | Path) and "\x00" in str(value):
            raise ValueError("must not contain a NUL character")
        return value

    @field_validator("home")
    @classmethod
    def _home_is_a_folder(cls, value: Path) -> Path:
        """The home must be a folder, or creatable as one (not /dev/null, not under a file)."""
        home = value.expanduser().resolve()
        existing = next((p for p in (home, *home.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            where = "is" if existing == home else f"is under {existing}, which is"
            raise ValueError(f"{home} {where} not a folder; point it at a folder")
        if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"{existing} is not writable by this user")
        return home

    @field_validator("project_dir")
    @classmethod
    def _project_has_warehouse(cls, value: Path) -> Path:
        path = value.expanduser().resolve()
        if not (path / "warehouse").is_dir():
            raise ValueError(f"{path} has no warehouse/ folder (the SQL models)")
        return path

    @field_validator("memory_limit", mode="before")
    @classmethod
    def _memory_limit(cls, value: Any) -> Any:
        """Empty means DuckDB's default; a limit must be positive."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        match = MEMORY_LIMIT.match(str(value))
        if match and not float(match.group(1)) > 0:
            raise ValueError("must be more than 0 (e.g. 1GB)")
        if not match:
            raise ValueError("must be a size such as 1GB, 512MB or 2GiB (DuckDB units)")
        return value

    @field_validator("threads", "dask_address", "bucket_lake", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

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
    def bucket_lake_url(self) -> str:
        """Root of the bucket Parquet (a path or URL); the workers' only shared storage."""
        return self.bucket_lake or str(self.lake_dir / "buckets")

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


def unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """SEGMENTS_* variables no setting reads (a typo is otherwise silently ignored)."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    env = os.environ if environ is None else environ
    return sorted(k for k in env if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)
