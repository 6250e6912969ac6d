"""Run the warehouse SQL models: file stem = relation name, folder = schema.

Each model file holds one SELECT. The runner wraps it in
`create or replace table <folder>.<stem> as ...` (or, for a file whose first line is
`-- materialized: append`, `insert into <folder>.<stem> by name ...`: tables that grow by
one slice per publish), passes only the named parameters the file uses ($as_of, $run_id,
...), and orders models by the relations they reference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# A string literal, a quoted identifier, or a `--` comment, leftmost first: a `--` or `$x`
# inside quotes is text (a mapped column "a--b", a pattern 'x$y'), not a comment or parameter.
_QUOTED_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*(table|append)\s*$")


def _strip_comments(sql: str) -> str:
    """The SQL without `--` comments; quoted text is kept as it is."""
    return _QUOTED_OR_COMMENT.sub(lambda m: "" if m.group().startswith("--") else m.group(), sql)


def _code_only(sql: str) -> str:
    """The SQL without comments, string literals or quoted identifiers."""
    return _QUOTED_OR_COMMENT.sub(" ", sql)


def used_params(sql: str) -> set[str]:
    """Named parameters a statement uses (not in comments or quotes: a note may say $as_of)."""
    return set(_PARAM.findall(_code_only(sql)))


def bind(sql: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Pick the parameters a statement needs; fail early, naming the missing ones."""
    params = dict(params or {})
    needed = used_params(sql)
    missing = needed - params.keys()
    if missing:
        raise KeyError(f"SQL needs parameters {sorted(missing)}; pass them to the runner")
    return {name: params[name] for name in needed}


def model_paths(sql_dir: Path, layer: str) -> dict[str, Path]:
    """Model files of a layer by relation name, checking names are safe identifiers."""
    paths = {}
    for path in sorted((sql_dir / layer).glob("*.sql")):
        if not _IDENT.match(path.stem):
            raise ValueError(f"{path}: model file names must be lower_snake_case identifiers")
        paths[path.stem] = path
    return paths


def model_order(sql_dir: Path, layer: str) -> list[str]:
    """Models of a layer in dependency order (a model after every `layer.x` it reads)."""
    paths = model_paths(sql_dir, layer)
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        body = _strip_comments(path.read_text()).lower()
        graph[name] = {
            other for other in paths if other != name and re.search(rf"\b{layer}\.{other}\b", body)
        }
    return list(TopologicalSorter(graph).static_order())


def materialization(body: str) -> str:
    """`table` (rebuilt each time, the default) or `append`, from the file's first line."""
    first = body.lstrip().split("\n", 1)[0].strip()
    match = _MATERIALIZED.match(first)
    return match.group(1) if match else "table"


def run_model(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    layer: str,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    target: str | None = None,
) -> int:
    """Build one relation from its file (or into `target`, e.g. a candidate to validate first).

    Returns the rows of the rebuilt relation, or for an append model the rows it appended.
    """
    body = (sql_dir / layer / f"{name}.sql").read_text().strip().rstrip(";")
    relation = target or f"{layer}.{name}"
    if materialization(body) == "append":  # the table is declared in warehouse/schema/
        return con.execute(
            f"insert into {relation} by name\n{body}", bind(body, params)
        ).fetchone()[0]
    con.execute(f"create schema if not exists {relation.split('.')[0]}")
    con.execute(f"create or replace table {relation} as\n{body}", bind(body, params))
    return con.execute(f"select count(*) from {relation}").fetchone()[0]


def select_model(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    layer: str,
    name: str,
    params: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyRelation:
    """A model's rows without materializing them (a backtest window read once)."""
    body = (sql_dir / layer / f"{name}.sql").read_text().strip().rstrip(";")
    return con.sql(body, params=bind(body, params))


def run_layer(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    layer: str,
    params: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Build every relation of a layer in order; returns row counts by relation.

    Models are built without preserving insertion order: a model's rows have no meaning in
    their order (readers sort, e.g. by customer_id), and DuckDB then writes its parallel
    results as they come (about 20% of the feature layer at 10M lines).
    """
    (preserve,) = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    con.execute("set preserve_insertion_order = false")
    try:
        return {
            name: run_model(con, sql_dir, layer, name, params)
            for name in model_order(sql_dir, layer)
        }
    finally:
        con.execute(f"set preserve_insertion_order = {bool(preserve)}")


def run_script(
    con: duckdb.DuckDBPyConnection, path: Path, params: Mapping[str, Any] | None = None
) -> None:
    """Run a file of statements (DDL or a parameterised DML step), one statement at a time."""
    for statement in split_statements(path.read_text()):
        con.execute(statement, bind(statement, params))


def split_statements(sql: str) -> list[str]:
    """Split on semicolons that end a line; our DDL never puts one inside a string."""
    parts = re.split(r";\s*(?:\n|$)", _strip_comments(sql))
    return [part.strip() for part in parts if part.strip()]


def apply_schema(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> None:
    """Create schemas and bookkeeping tables (idempotent) and load seed tables."""
    for path in sorted((sql_dir / "schema").glob("*.sql")):
        run_script(con, path)
    load_seeds(con, sql_dir)


def load_seeds(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> dict[str, int]:
    """Load warehouse/seeds/*.csv into `seeds.<stem>` so BI users can read the rules."""
    counts = {}
    con.execute("create schema if not exists seeds")
    for path in sorted((sql_dir / "seeds").glob("*.csv")):
        if not _IDENT.match(path.stem):
            raise ValueError(f"{path}: seed file names must be lower_snake_case identifiers")
        con.execute(
            f"create or replace table seeds.{path.stem} as "
            "select * from read_csv($path, header = true, auto_detect = true)",
            {"path": str(path)},
        )
        counts[path.stem] = con.execute(f"select count(*) from seeds.{path.stem}").fetchone()[0]
    return counts
