"""Declarative source mappings: how a file becomes rows of a canonical entity.

A user adds a source by writing a YAML file (see warehouse/sources/ and docs/ingestion.md);
no code. Mappings are strict: an unknown key anywhere is an error naming the allowed keys
(a typo in `pattern` must not silently let bad ids in).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from segments.ingest.expressions import parse_expression
from segments.ingest.mapping_schema import MappingError, check_document

# Target columns each entity can fill, and the staging table it lands in. To add an entity,
# add its columns here, its required ones to ENTITY_REQUIRED, its table to ENTITY_TABLE (and
# the table's DDL in warehouse/schema/, its load SELECT in warehouse/load/).
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
# Targets every mapping of an entity must fill (NOT NULL in staging): always checked as
# required, so an empty value is quarantined as missing_required.
ENTITY_REQUIRED: dict[str, tuple[str, ...]] = {
    "transactions": ("invoice_id", "quantity", "unit_price", "invoiced_at"),
    "customers": ("customer_id",),
    "events": ("customer_id", "event_type", "event_at"),
    "campaigns": ("campaign_id", "customer_id", "sent_at"),
}
# The type of each target in staging (others are text), and the mapping types that fit it; a
# target whose mapping gives no `type` takes its staging type.
TARGET_TYPES = {
    "quantity": "integer", "unit_price": "double", "invoiced_at": "timestamp",
    "birth_date": "date", "age_years": "integer", "annual_income": "double",
    "spending_score": "integer", "signup_date": "date", "event_at": "timestamp",
    "sent_at": "timestamp", "opened_at": "timestamp", "clicked_at": "timestamp",
    "converted_at": "timestamp", "revenue": "double",
}  # fmt: skip
FITTING_TYPES = {
    "integer": ("integer", "bigint"),
    "double": ("integer", "bigint", "double"),
    "timestamp": ("date", "timestamp"),
    "date": ("date", "timestamp"),
    "varchar": ("varchar", "id"),
}
ENTITY_TABLE = {
    "transactions": "staging.stg_transactions",
    "customers": "staging.customer_versions",
    "events": "staging.stg_events",
    "campaigns": "staging.stg_campaigns",  # DDL: warehouse/schema/staging_campaigns.sql
}
# Entities whose rows are versions of one record: a changed record is a new version.
VERSIONED_ENTITIES = frozenset({"customers"})
# Target names of 0.1 that carried a currency (CHANGELOG 0.2.0): named in the error, not kept.
RENAMED_TARGETS = {
    "unit_price_gbp": "unit_price",
    "annual_income_gbp": "annual_income",
}
Entity = Literal[tuple(ENTITY_COLUMNS)]  # type: ignore[valid-type]
ColumnType = Literal[
    "varchar", "id", "integer", "bigint", "double", "date", "timestamp", "boolean"
]
# Encodings DuckDB reads without an extension, and the spellings accepted for them.
ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "utf-16": "utf-16",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
}
from segments.core.recordfiles import WHITESPACE

_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$")


class Strict(BaseModel):
    """Every mapping section refuses keys it does not know."""

    model_config = ConfigDict(extra="forbid")


class Column(Strict):
    """One target column (from a file column or an expression), or a file column kept raw."""

    source: str | None = Field(
        default=None,
        min_length=1,
        description="Column name in the file ('column0'... without a header).",
    )
    expression: str | None = Field(
        default=None,
        min_length=1,
        description="SQL over the file's declared columns and constants, instead of source.",
    )
    keep: bool = Field(
        default=False,
        description="Not a target: store this file column in raw.* as read (never staged).",
    )
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
    finite: bool = Field(
        default=True, description="double: NaN and infinities are quarantined (non_finite)."
    )

    @model_validator(mode="after")
    def _one_origin(self) -> Column:
        if (self.source is None) == (self.expression is None):
            raise ValueError("give exactly one of `source` or `expression`")
        if self.keep and self.expression is not None:
            raise ValueError("`keep: true` stores a file column: give `source`, not expression")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a regular expression: {exc}")
        return self


class CsvOptions(Strict):
    """How to split a delimited text file (passed to DuckDB's read_csv)."""

    delimiter: str = Field(
        default=",",
        min_length=1,
        description="1 to 4 characters, or 'whitespace' for runs of spaces and tabs.",
    )
    header: bool = True
    skip_rows: int = Field(default=0, ge=0, description="Lines to skip before the header.")
    quote: str = Field(default='"', max_length=1)
    escape: str = Field(default='"', max_length=1)
    encoding: Literal[tuple(ENCODINGS)] = "utf-8"  # type: ignore[valid-type]
    decimal: Literal[".", ","] = "."

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if value != WHITESPACE and (len(value.encode()) > 4 or "\n" in value or "\r" in value):
            raise ValueError(
                f"delimiter {value!r}: give 1 to 4 characters (no newline), or "
                f"'{WHITESPACE}' for columns separated by runs of spaces or tabs"
            )
        return value


class CancellationRule(Strict):
    """Which transaction lines are cancellations (returns): exactly one rule."""

    invoice_prefix: str | None = Field(
        default=None, min_length=1, description="Invoice ids starting with it (any case)."
    )
    when: str | None = Field(
        default=None,
        min_length=1,
        description="SQL condition over the file's declared columns, e.g. Type = 'return'.",
    )

    @model_validator(mode="after")
    def _one_rule(self) -> CancellationRule:
        if (self.invoice_prefix is None) == (self.when is None):
            raise ValueError("cancellation: give exactly one of `invoice_prefix` or `when`")
        return self


DEFAULT_CANCELLATION = CancellationRule(invoice_prefix="C")  # the UCI Online Retail habit


class DatabaseOptions(Strict):
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


class SourceMapping(Strict):
    """A named mapping from one kind of file to one canonical entity."""

    name: str
    entity: Entity
    format: Literal["csv", "parquet", "jsonl", "xlsx"] = "csv"
    file_pattern: str = "*"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    database: DatabaseOptions | None = None
    columns: dict[str, Column]
    natural_key: list[str] = Field(default_factory=list)
    cancellation: CancellationRule | Literal["none"] | None = Field(
        default=None,
        description="transactions only; default invoice_prefix: C. 'none': no cancellations.",
    )
    date_floor: date | None = Field(
        default=None, description="Lines dated before it are quarantined (SEGMENTS_DATE_FLOOR)."
    )
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
        unknown = [c for c, col in self.columns.items() if c not in allowed and not col.keep]
        renamed = [f"{c} is now {RENAMED_TARGETS[c]}" for c in unknown if c in RENAMED_TARGETS]
        if renamed:
            raise ValueError(
                f"{self.name}: money columns carry no currency since 0.2.0: "
                f"{'; '.join(renamed)} (rename the key in the mapping; see CHANGELOG.md)"
            )
        if unknown:
            raise ValueError(
                f"{self.name}: columns {unknown} are not {self.entity} columns "
                f"(allowed: {', '.join(allowed)}); to store a file column in raw only, "
                "give it `keep: true`"
            )
        kept_targets = [c for c, col in self.columns.items() if c in allowed and col.keep]
        if kept_targets:
            raise ValueError(
                f"{self.name}: {kept_targets} are {self.entity} targets; `keep: true` is for "
                "file columns no target uses (give them another name)"
            )
        missing = [c for c in ENTITY_REQUIRED[self.entity] if c not in self.columns]
        if missing:
            raise ValueError(
                f"{self.name}: a {self.entity} mapping needs the target column(s) {missing} "
                f"(required: {', '.join(ENTITY_REQUIRED[self.entity])}); map each from a "
                "`source` column or an `expression`"
            )
        for target, column in self.targets.items():
            natural = TARGET_TYPES.get(target, "varchar")
            if "type" not in column.model_fields_set:
                column.type = natural  # quantity: integer, invoiced_at: timestamp, ...
            elif column.type not in FITTING_TYPES[natural]:
                raise ValueError(
                    f"{self.name}: column {target} is {natural} in staging; give it type "
                    f"{' or '.join(FITTING_TYPES[natural])} (not {column.type})"
                )
        bad_key = [k for k in self.natural_key if k not in self.targets]
        if bad_key:
            raise ValueError(
                f"{self.name}: natural_key {bad_key} must be mapped target columns "
                f"(mapped: {', '.join(self.targets)})"
            )
        if self.cancellation is not None and self.entity != "transactions":
            raise ValueError(f"{self.name}: `cancellation` applies to transactions only")
        for target, column in self.columns.items():
            if column.expression is not None:
                parse_expression(column.expression, self.declared_sources, target)
        if isinstance(self.cancellation, CancellationRule) and self.cancellation.when:
            parse_expression(self.cancellation.when, self.declared_sources, "cancellation")
        return self

    @property
    def targets(self) -> dict[str, Column]:
        """The entity columns this mapping fills (not the raw-only `keep` columns)."""
        return {t: c for t, c in self.columns.items() if not c.keep}

    @property
    def declared_sources(self) -> set[str]:
        """File columns the mapping names as a `source` (the only ones read or stored)."""
        return {c.source for c in self.columns.values() if c.source is not None}

    @property
    def expressions(self) -> dict[str, tuple[str, list[str]]]:
        """Checked SQL and the file columns it reads, by target."""
        return {
            t: parse_expression(c.expression, self.declared_sources, t)
            for t, c in self.targets.items()
            if c.expression is not None
        }

    @property
    def cancellation_rule(self) -> CancellationRule | None:
        """The rule in force (transactions): the mapping's, or the default invoice prefix C."""
        if self.entity != "transactions" or self.cancellation == "none":
            return None
        return self.cancellation or DEFAULT_CANCELLATION

    def is_required(self, target: str) -> bool:
        """Required by the mapping or by the entity's staging table."""
        return self.columns[target].required or target in ENTITY_REQUIRED[self.entity]

    def required_sources(self) -> list[str]:
        """File columns that must exist: the sources of required targets (or their inputs)."""
        needed: list[str] = []
        for target, column in self.targets.items():
            if self.is_required(target):
                needed += [column.source] if column.source else self.expressions[target][1]
        return list(dict.fromkeys(needed))

    def pii_sources(self) -> set[str]:
        """File columns replaced by pseudonyms before anything else reads them."""
        return {c.source for c in self.columns.values() if c.pii and c.source is not None}

    @property
    def table(self) -> str:
        return ENTITY_TABLE[self.entity]

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"


def load_mapping(path: Path) -> SourceMapping:
    """Read one YAML mapping: JSON Schema first (key and allowed values), then the model."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"source mapping {path}: cannot be read as YAML ({exc})") from exc
    check_document(document, str(path), SourceMapping)
    try:
        return SourceMapping.model_validate(document)
    except ValidationError as exc:  # pydantic's errors, one short line each, file named
        raise MappingError(f"source mapping {path}: {model_errors(exc)}") from exc


def model_errors(exc: ValidationError) -> str:
    """pydantic's errors as `key: message`, without the input dump."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


def builtin_mappings(sql_dir: Path) -> dict[str, SourceMapping]:
    """All mappings shipped in warehouse/sources/, by name."""
    mappings = {}
    for path in mapping_files(sql_dir):
        mapping = load_mapping(path)
        mappings[mapping.name] = mapping
    return mappings


def mapping_files(sql_dir: Path) -> list[Path]:
    """The mapping files of warehouse/sources/, in name order."""
    return sorted((sql_dir / "sources").glob("*.yaml"))


def resolve_mapping(name_or_path: str, sql_dir: Path) -> SourceMapping:
    """A built-in mapping by name, or a user's mapping file by path."""
    names = {p.stem: p for p in mapping_files(sql_dir)}
    if name_or_path in names:
        return load_mapping(names[name_or_path])
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} and path.exists():
        return load_mapping(path)
    raise MappingError(
        f"unknown source {name_or_path!r}: use one of {sorted(names)} "
        "or the path of a mapping .yaml file"
    )
