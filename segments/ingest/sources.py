"""Declarative source mappings: how a file becomes rows of a canonical entity.

A user adds a source by writing a YAML file (see warehouse/sources/); no code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

Entity = Literal["transactions", "customers", "events", "campaigns"]
ColumnType = Literal[
    "varchar", "id", "integer", "bigint", "double", "date", "timestamp", "boolean"
]

# Target columns each entity can fill, and the staging table it lands in.
ENTITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "transactions": (
        "invoice_id",
        "product_code",
        "description",
        "quantity",
        "unit_price",
        "invoiced_at",
        "customer_id",
        "country",
    ),
    "customers": (
        "customer_id",
        "name_hash",
        "email_hash",
        "gender",
        "birth_date",
        "age_years",
        "annual_income",
        "spending_score",
        "country",
        "signup_date",
    ),
    "events": ("customer_id", "session_id", "event_type", "event_at", "channel"),
    # campaign feedback (segments/monitor): one recipient of one campaign and its response
    "campaigns": (
        "campaign_id",
        "customer_id",
        "sent_at",
        "channel",
        "test_group",
        "opened_at",
        "clicked_at",
        "converted_at",
        "revenue",
    ),
}
ENTITY_TABLE = {
    "transactions": "staging.stg_transactions",
    "customers": "staging.customer_versions",
    "events": "staging.stg_events",
    "campaigns": "staging.stg_campaigns",  # DDL: warehouse/schema/staging_campaigns.sql
}
# Target names of 0.1 that carried a currency (CHANGELOG 0.2.0): named in the error, not kept.
RENAMED_TARGETS = {
    "unit_price_gbp": "unit_price",
    "annual_income_gbp": "annual_income",
}
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$")


class Column(BaseModel):
    """One target column: where it comes from and how to type it."""

    source: str = Field(description="Column name in the file (or its position, 'column0').")
    type: ColumnType = "varchar"
    required: bool = False
    pii: bool = Field(default=False, description="Replace by HMAC-SHA256 at ingest.")
    formats: list[str] = Field(
        default_factory=list, description="strptime formats, tried in order."
    )
    values: dict[str, str] | None = Field(
        default=None, description="Recode map (source value -> canonical); others are invalid."
    )
    scale: float | None = Field(
        default=None,
        description="Multiply the typed number (e.g. 1000 for a column in thousands); the "
        "currency is taken as is. min/max apply after scaling.",
    )
    pattern: str | None = Field(
        default=None, description="Regular expression the trimmed text must match in full."
    )
    min: float | None = None
    max: float | None = None


class CsvOptions(BaseModel):
    """How to split a delimited text file; DuckDB reads utf-8, utf-16 and latin-1."""

    delimiter: str = ","
    header: bool = True
    quote: str = '"'
    escape: str = '"'
    encoding: str = "utf-8"
    decimal: str = "."


class DatabaseOptions(BaseModel):
    """A table or query of a SQL database read in batches instead of a file."""

    url: str = Field(description="sqlite:///path/to.db or postgresql://user@host:port/db")
    table: str | None = None
    query: str | None = Field(default=None, description="A SELECT used instead of `table`.")
    updated_at: str | None = Field(
        default=None, description="Column for incremental reads: only rows newer than the last."
    )
    batch_rows: int = Field(default=50_000, gt=0)

    @model_validator(mode="after")
    def _table_or_query(self) -> DatabaseOptions:
        if (self.table is None) == (self.query is None):
            raise ValueError("database: give exactly one of `table` or `query`")
        if self.table is not None and not _TABLE.match(self.table):
            raise ValueError(f"database.table {self.table!r} must be [schema.]name")
        if self.updated_at is not None and not _COLUMN.match(self.updated_at):
            raise ValueError(f"database.updated_at {self.updated_at!r} must be a column name")
        if not self.url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("database.url must start with sqlite:/// or postgresql://")
        return self


class SourceMapping(BaseModel):
    """A named mapping from one kind of file to one canonical entity."""

    name: str
    entity: Entity
    format: Literal["csv", "parquet", "jsonl", "xlsx"] = "csv"
    file_pattern: str = "*"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    database: DatabaseOptions | None = None
    columns: dict[str, Column]
    natural_key: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, name: str) -> str:
        if not _IDENT.match(name):
            raise ValueError(f"source name {name!r} must be lower_snake_case")
        return name

    @model_validator(mode="after")
    def _columns_fit_entity(self) -> SourceMapping:
        allowed = ENTITY_COLUMNS[self.entity]
        unknown = [c for c in self.columns if c not in allowed]
        renamed = [f"{c} is now {RENAMED_TARGETS[c]}" for c in unknown if c in RENAMED_TARGETS]
        if renamed:
            raise ValueError(
                f"{self.name}: money columns carry no currency since 0.2.0: "
                f"{'; '.join(renamed)} (rename the key in the mapping; see CHANGELOG.md)"
            )
        if unknown:
            raise ValueError(
                f"{self.name}: columns {unknown} are not {self.entity} columns "
                f"(allowed: {', '.join(allowed)})"
            )
        if "customer_id" not in self.columns and self.entity != "transactions":
            raise ValueError(f"{self.name}: a {self.entity} mapping needs customer_id")
        return self

    @property
    def table(self) -> str:
        return ENTITY_TABLE[self.entity]

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"


def load_mapping(path: Path) -> SourceMapping:
    """Read one YAML mapping, with the file named in any error."""
    try:
        return SourceMapping.model_validate(yaml.safe_load(path.read_text()))
    except Exception as exc:  # pydantic and YAML errors both need the file name
        raise ValueError(f"source mapping {path}: {exc}") from exc


def builtin_mappings(sql_dir: Path) -> dict[str, SourceMapping]:
    """All mappings shipped in warehouse/sources/, by name."""
    mappings = {}
    for path in sorted((sql_dir / "sources").glob("*.yaml")):
        mapping = load_mapping(path)
        mappings[mapping.name] = mapping
    return mappings


def resolve_mapping(name_or_path: str, sql_dir: Path) -> SourceMapping:
    """A built-in mapping by name, or a user's mapping file by path."""
    mappings = builtin_mappings(sql_dir)
    if name_or_path in mappings:
        return mappings[name_or_path]
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} and path.exists():
        return load_mapping(path)
    raise ValueError(
        f"unknown source {name_or_path!r}: use one of {sorted(mappings)} "
        "or the path of a mapping .yaml file"
    )
