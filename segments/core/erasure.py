"""Remove every row of some customers from DuckDB databases and Parquet files, recognising
the rows by what they hold rather than by a list of tables (new tables are covered too).

A row is the customer's when
1. a key column (`customer_id`, or a source's mapped id column such as `CustomerID`) holds
   one of their pseudonyms or normalised raw ids;
2. it is a source line (a table with a line-number column: raw, staging, quarantine) and any
   text column equals a pseudonym (a hashed PII column), or its JSON (quarantine
   `raw_values`) holds a pseudonym, or a raw id under an id key;
3. a list, struct or map column still mentions a pseudonym.
Other text that mentions a pseudonym (a data-quality message) is redacted to `[erased]`.

DuckDB keeps the bytes of deleted rows in the file until the file is rewritten, so an
erasure copies a database into a new file without those rows (`copy_database`);
`delete_in_place` is for the ingest path, which holds the warehouse open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from segments.core.db import connect_path

ERASED = "[erased]"
LINE_COLUMNS = frozenset({"_line_number", "line_number"})
_TEXT = ("VARCHAR", "JSON")
_HEX = re.compile(r"^[0-9a-f]+$")
# the `id` rule of ingest, in SQL (segments/core/pii.py::normalise_id is its Python twin)
_NORMALISED = r"nullif(regexp_replace(trim({}), '\.0+$', ''), '')"
KEYS, PSEUDONYMS, ID_COLUMNS = "_erase_keys", "_erase_pseudonyms", "_erase_id_columns"


@dataclass(frozen=True)
class Customers:
    """Who is erased, in every form their rows can hold them."""

    pseudonyms: frozenset[str]
    raw_ids: frozenset[str] = frozenset()  # normalised source ids (a column never hashed)
    id_columns: frozenset[str] = frozenset({"customer_id"})

    def __post_init__(self) -> None:
        if not all(_HEX.match(p) for p in self.pseudonyms):
            raise ValueError("pseudonyms are lower-case hex digests")

    @property
    def pattern(self) -> str:
        """A regular expression matching any pseudonym (hex only, so nothing to escape)."""
        return "|".join(sorted(self.pseudonyms)) or "(?!)"


@dataclass
class Counts:
    """What an erasure removed, by place (a relation or a file): rows and redacted values."""

    rows: dict[str, int] = field(default_factory=dict)
    redacted: dict[str, int] = field(default_factory=dict)

    def add(self, place: str, rows: int, redacted: int = 0) -> None:
        if rows:
            self.rows[place] = self.rows.get(place, 0) + rows
        if redacted:
            self.redacted[place] = self.redacted.get(place, 0) + redacted

    def merge(self, other: Counts) -> None:
        for place, rows in other.rows.items():
            self.add(place, rows)
        for place, redacted in other.redacted.items():
            self.add(place, 0, redacted)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(path: Path | str) -> str:
    """A path as a SQL string literal, for ATTACH only (it takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def register(con: duckdb.DuckDBPyConnection, customers: Customers) -> None:
    """Temp tables the predicates read (values are parameters, never SQL text)."""
    for table, values in (
        (KEYS, customers.pseudonyms | customers.raw_ids),
        (PSEUDONYMS, customers.pseudonyms),
        (ID_COLUMNS, customers.id_columns),
    ):
        con.execute(
            f"create or replace temp table {table} as select unnest($v::varchar[]) as v",
            {"v": sorted(values)},
        )


def _is_complex(dtype: str) -> bool:
    """A list, array, struct, map or union column (searched as text, never redacted)."""
    return dtype.startswith(("STRUCT", "MAP", "UNION")) or dtype.endswith("]")


def _predicates(columns: list[tuple[str, str]], customers: Customers) -> tuple[str, list[str]]:
    """(SQL true for the customer's rows, text columns to check for mentions)."""
    source_line = any(name in LINE_COLUMNS for name, _ in columns)
    parts, text = [], []
    pattern = customers.pattern
    for name, dtype in columns:
        col = _q(name)
        if name in customers.id_columns and not _is_complex(dtype):
            parts.append(f"{_NORMALISED.format(col + '::varchar')} in (select v from {KEYS})")
        elif source_line and dtype == "VARCHAR":
            parts.append(f"trim({col}) in (select v from {PSEUDONYMS})")
        elif source_line and dtype == "JSON":
            value = "trim(e.value ->> '$')"
            parts.append(
                f"exists (select 1 from json_each({col}) e where {value} in (select v from "
                f"{PSEUDONYMS}) or (e.key in (select v from {ID_COLUMNS}) and "
                f"{_NORMALISED.format(value)} in (select v from {KEYS})))"
            )
        if _is_complex(dtype):
            parts.append(f"regexp_matches({col}::varchar, '{pattern}')")
        elif dtype in _TEXT:
            text.append(name)
    drop = "coalesce(" + " or ".join(f"({p})" for p in parts) + ", false)" if parts else "false"
    return drop, text


def _plan(
    con: duckdb.DuckDBPyConnection, source: str, columns: list[tuple[str, str]], c: Customers
) -> tuple[str, int, dict[str, int]]:
    """The drop predicate, how many rows it drops, and mentions left per text column.

    One scan: the predicate is evaluated once per row, then counted (not once per column).
    """
    drop, text = _predicates(columns, c)
    flags = [f"{drop} as _drop"] + [
        f"regexp_matches({_q(name)}::varchar, '{c.pattern}') as _m{i}"
        for i, name in enumerate(text)
    ]
    counts = ["count(*) filter (where _drop)"] + [
        f"count(*) filter (where not _drop and _m{i})" for i in range(len(text))
    ]
    row = con.execute(
        f"select {', '.join(counts)} from (select {', '.join(flags)} from {source})"
    ).fetchone()
    left = {name: n for name, n in zip(text, row[1:], strict=True) if n}
    return drop, row[0], left


def _redaction(name: str, dtype: str, c: Customers) -> str:
    """The column's value with every pseudonym replaced by [erased] (JSON stays JSON)."""
    value = f"regexp_replace({_q(name)}::varchar, '{c.pattern}', '{ERASED}', 'g')"
    return f"{value}::JSON" if dtype == "JSON" else value


def _select(source: str, columns: list[tuple[str, str]], drop: str, left: dict, c) -> str:
    types = dict(columns)
    replace = ", ".join(f"{_redaction(name, types[name], c)} as {_q(name)}" for name in left)
    star = f"* replace ({replace})" if replace else "*"
    return f"select {star} from {source} where not {drop}"


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str]]:
    return con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = $d "
        "and not temporary order by 1, 2",
        {"d": database},
    ).fetchall()


def _columns(con, database: str, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = $d "
        "and schema_name = $s and table_name = $t order by column_index",
        {"d": database, "s": schema, "t": table},
    ).fetchall()


def copy_database(
    con: duckdb.DuckDBPyConnection, source: Path, target: Path, customers: Customers
) -> Counts:
    """Write `target`: `source` (schema, views, macros, comments) without the customers.

    Leaves `target` attached as `erase_dst` so the caller can add rows (the erasure log)
    before `finish_copy`.
    """
    register(con, customers)
    con.execute(f"attach {sql_literal(source)} as erase_src (read_only)")
    con.execute(f"attach {sql_literal(target)} as erase_dst")
    con.execute("copy from database erase_src to erase_dst (schema)")
    counts = Counts()
    for schema, table in _tables(con, "erase_src"):
        relation = f"{_q(schema)}.{_q(table)}"
        columns = _columns(con, "erase_src", schema, table)
        drop, rows, left = _plan(con, f"erase_src.{relation}", columns, customers)
        query = _select(f"erase_src.{relation}", columns, drop, left, customers)
        con.execute(f"insert into erase_dst.{relation} {query}")
        counts.add(f"{schema}.{table}", rows, sum(left.values()))
    con.execute("detach erase_src")
    return counts


def finish_copy(con: duckdb.DuckDBPyConnection) -> None:
    """Everything into the target's main file (no .wal beside it), then detach it."""
    con.execute("checkpoint erase_dst")
    con.execute("detach erase_dst")


def delete_in_place(con: duckdb.DuckDBPyConnection, customers: Customers) -> Counts:
    """Delete and redact in the open database (the caller holds the transaction)."""
    register(con, customers)
    (database,) = con.execute("select current_database()").fetchone()
    counts = Counts()
    for schema, table in _tables(con, database):
        relation = f"{_q(schema)}.{_q(table)}"
        columns = _columns(con, database, schema, table)
        drop, rows, left = _plan(con, relation, columns, customers)
        if rows:
            con.execute(f"delete from {relation} where {drop}")
        types = dict(columns)
        for name in left:
            con.execute(
                f"update {relation} set {_q(name)} = {_redaction(name, types[name], customers)} "
                f"where regexp_matches({_q(name)}::varchar, '{customers.pattern}')"
            )
        counts.add(f"{schema}.{table}", rows, sum(left.values()))
    return counts


def rewrite_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, tmp: Path, customers: Customers
) -> tuple[int, int] | None:
    """Write `tmp`: the Parquet file without the customers; None when nothing changes.

    Hive partitioning is off: `as_of=...` lives in the folder name, never in the file.
    """
    register(con, customers)
    view = "_erase_parquet"
    relation = con.read_parquet(str(path), hive_partitioning=False)
    columns = list(zip(relation.columns, (str(t) for t in relation.types), strict=True))
    relation.create_view(view, replace=True)
    try:
        drop, rows, left = _plan(con, view, columns, customers)
        if not rows and not left:
            return None
        query = _select(view, columns, drop, left, customers)
        con.execute(f"copy ({query}) to $tmp (format parquet)", {"tmp": str(tmp)})
    finally:
        con.execute(f"drop view if exists {view}")
    return rows, sum(left.values())


def open_scratch(threads: int | None = None, memory_limit: str | None = None):
    """An in-memory connection to attach databases to and read Parquet with."""
    return connect_path(":memory:", threads=threads, memory_limit=memory_limit)
