"""Run the warehouse SQL models: file stem = relation name, folder = schema.

Each model file holds one SELECT. The runner wraps it in
`create or replace table <folder>.<stem> as ...` (or, for a file whose first line is
`-- materialized: append`, `insert into <folder>.<stem> by name ...`: tables that grow by
one slice per publish; for `-- materialized: incremental ...`, only what changed since the
last build: see segments/core/incremental.py), passes only the named parameters the file uses
($as_of, $run_id, ...), and orders models by the relations they reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb

from segments.core import incremental

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# A string literal, a quoted identifier, or a `--` comment, leftmost first: a `--` or `$x`
# inside quotes is text (a mapped column "a--b", a pattern 'x$y'), not a comment or parameter.
_QUOTED_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*(table|append|incremental|temp)\b")
# progress of a layer: (models done, models in the layer, the model just built)
Progress = Callable[[int, int, str], None]


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


def _reads(body: str, layer: str, names: Mapping[str, Path] | list[str]) -> set[str]:
    """The models of `layer` a body reads (`layer.x` outside comments)."""
    text = _strip_comments(body).lower()
    return {other for other in names if re.search(rf"\b{layer}\.{other}\b", text)}


def model_order(sql_dir: Path, layer: str) -> list[str]:
    """Models of a layer in dependency order (a model after every `layer.x` it reads).

    A model kept by customer_id also comes after every model kept by load_id: those say which
    customers changed, even when it reads staging rather than them.
    """
    paths = model_paths(sql_dir, layer)
    texts = {name: path.read_text() for name, path in paths.items()}
    kinds = {name: incremental.increment_of(text) for name, text in texts.items()}
    by_load = {name for name, kind in kinds.items() if kind and kind.key == "load_id"}
    graph = {}
    for name, text in texts.items():
        graph[name] = _reads(text, layer, paths) - {name}
        if kinds[name] and kinds[name].key == "customer_id":
            graph[name] |= by_load
    return list(TopologicalSorter(graph).static_order())


def incremental_models(sql_dir: Path, layer: str) -> list[str]:
    """The layer's incremental models, in dependency order."""
    return [
        name
        for name in model_order(sql_dir, layer)
        if materialization((sql_dir / layer / f"{name}.sql").read_text()) == "incremental"
    ]


def temp_models(sql_dir: Path, layer: str) -> set[str]:
    """Models of a layer built as temp tables (`-- materialized: temp`)."""
    return {
        name for name, path in model_paths(sql_dir, layer).items()
        if materialization(path.read_text()) == "temp"
    }  # fmt: skip


def resolve(body: str, layer: str, temps: set[str]) -> str:
    """Point `layer.x` at the temp table of a temp model x (what dbt's ref() resolves)."""
    for name in temps:
        body = re.sub(rf"\b{layer}\.{name}\b", f"temp.main.{name}", body)
    return body


def materialization(body: str) -> str:
    """`table` (rebuilt each time, the default), `append`, `incremental` or `temp` (an
    intermediate result of the layer: a temp table of this connection, never written to
    the warehouse file, so it costs no disk write or checkpoint), from line one."""
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
    kind = materialization(body)
    if kind == "incremental":
        raise ValueError(
            f"{layer}/{name}.sql is an incremental model: build it with run_layer(..., "
            f"{layer!r}), which knows what changed since its last build"
        )
    body = resolve(body, layer, temp_models(sql_dir, layer))
    if kind == "temp" and target is None:
        con.execute(f"drop table if exists {relation}")  # a copy an older version persisted
        con.execute(f"create or replace temp table {name} as\n{body}", bind(body, params))
        return con.execute(f"select count(*) from temp.main.{name}").fetchone()[0]
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
    body = resolve(body, layer, temp_models(sql_dir, layer))
    return con.sql(body, params=bind(body, params))


_MACRO = re.compile(r"^create\s+or\s+replace\s+macro\s+([a-z_][a-z0-9_]*)\b", re.IGNORECASE)


def _calls(sql: str, names: Mapping[str, str]) -> set[str]:
    """The macros among `names` a statement calls (outside comments and quoted text)."""
    code = _code_only(sql).lower()
    return {name for name in names if re.search(rf"\b{name}\s*\(", code)}


def _macros_used(sql_dir: Path, body: str) -> str:
    """The definitions of the macros a body calls, and of those they call, by name.

    An incremental model's rows follow these: a changed one rebuilds it, while a change to
    another macro (or to a comment) leaves its rows as they are.
    """
    macros: dict[str, str] = {}
    for path in sorted((sql_dir / "schema").glob("*.sql")):
        for statement in split_statements(path.read_text()):
            if match := _MACRO.match(statement):
                macros[match.group(1).lower()] = statement
    used: set[str] = set()
    todo = _calls(body, macros)
    while todo:
        name = todo.pop()
        used.add(name)
        todo |= _calls(macros[name], macros) - used
    return "".join(f"{macros[name]};\n" for name in sorted(used))


def _run_incremental(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    layer: str,
    name: str,
    params: Mapping[str, Any] | None,
    full_refresh: bool,
) -> int:
    """Bring one incremental model up to date; returns the rows it wrote."""
    body = (sql_dir / layer / f"{name}.sql").read_text().strip().rstrip(";")
    spec = incremental.increment_of(body)
    assert spec is not None
    bound = bind(body, params)
    if bound:  # values are bound, never formatted: wrap the body as a prepared SELECT
        raise ValueError(f"{layer}/{name}.sql: incremental models take no parameters")
    relation = f"{layer}.{name}"
    # the rows follow the model's SQL and the macros it calls: either changing rebuilds it
    macros = _macros_used(sql_dir, body)
    if spec.key == "load_id":
        assert spec.source is not None
        return incremental.refresh_by_load(
            con, relation, spec.source, body, definition=body + macros, full=full_refresh
        )
    # rebuilt whole, a customer model starts from every customer the load models know
    upstream = [
        other
        for other in model_order(sql_dir, layer)
        if (kind := incremental.increment_of((sql_dir / layer / f"{other}.sql").read_text()))
        and kind.key == "load_id"
    ]
    return incremental.refresh_by_customer(
        con,
        relation,
        body,
        [f"{layer}.{u}" for u in upstream],
        definition=body + macros,
        full=full_refresh,
    )


def run_layer(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    layer: str,
    params: Mapping[str, Any] | None = None,
    *,
    full_refresh: bool = False,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Build every relation of a layer in order; returns row counts by relation.

    Incremental models are brought up to date first (they precede what reads them) and
    report the rows they wrote; `full_refresh` rebuilds them from all of staging.
    Models are built without preserving insertion order: a model's rows have no meaning in
    their order (readers sort, e.g. by customer_id), and DuckDB then writes its parallel
    results as they come (about 20% of the feature layer at 10M lines).
    """
    (preserve,) = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    con.execute("set preserve_insertion_order = false")
    order = model_order(sql_dir, layer)
    counts: dict[str, int] = {}
    incremental.start_layer(con)
    try:
        for done, name in enumerate(order, start=1):
            body = (sql_dir / layer / f"{name}.sql").read_text()
            if materialization(body) == "incremental":
                counts[name] = _run_incremental(con, sql_dir, layer, name, params, full_refresh)
            else:
                counts[name] = run_model(con, sql_dir, layer, name, params)
            if progress is not None:
                progress(done, len(order), name)
        return counts
    finally:
        incremental.end_layer(con)
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
