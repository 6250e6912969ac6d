"""Incremental models: tables kept equal to their SELECT over all of staging by redoing only
what changed since they were last built (dbt's `incremental` materialization, with deletes).

Two kinds, named on a model file's first line:

- `-- materialized: incremental by load_id of <schema.table>`: one load's rows of the source
  make that load's rows of the model (the grain includes load_id). Loads are compared with
  ops.incremental_loads by their row count in the source: a new load is folded in; a load
  whose count changed (a re-landed file superseded it, an erasure deleted lines) or that is
  gone has its rows deleted and, if any source rows remain, recomputed. The body reads only
  the loads in the temp table `changed_loads`.
- `-- materialized: incremental by customer_id`: rows of a customer are a function of that
  customer's rows upstream. Customers touched by any load rebuilt in this layer (before the
  delete and after the insert) are collected in the temp table `changed_customers`; their
  rows are deleted and recomputed. The body reads only those customers.

A load is recognised by its fingerprint in the source: its row count and the sum of its line
numbers (one narrow scan of two columns per source and layer run). A load's rows are
appended under one id and afterwards only deleted, never updated in place: that is all the
loader has to guarantee.

Either kind is rebuilt whole when its SQL changed since its rows were built (the hash of the
file and of the macros it calls, directly or through another macro, is kept in
ops.incremental_models; a change to another macro or to a comment keeps its rows) or when a full refresh is asked for (`segments rebuild`).
Only the staging tables' `load_id` and `line_number` columns are relied on.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

_SPEC = re.compile(
    r"^--\s*materialized:\s*incremental\s+by\s+(load_id|customer_id)"
    r"(?:\s+of\s+([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*))?\s*$"
)
CHANGED_LOADS = "changed_loads"
CHANGED_CUSTOMERS = "changed_customers"
_FINGERPRINTS = "_load_fingerprints"


@dataclass(frozen=True)
class Increment:
    """How a model is kept up to date: by load of a source table, or by customer."""

    key: str  # load_id | customer_id
    source: str | None = None  # schema.table the loads are counted in (load_id only)


def increment_of(body: str) -> Increment | None:
    """The increment a model file declares on its first line, or None for other models."""
    first = body.lstrip().split("\n", 1)[0].strip()
    if not re.match(r"^--\s*materialized:\s*incremental\b", first):
        return None
    match = _SPEC.match(first)
    if not match or (match.group(1) == "load_id") != bool(match.group(2)):
        raise ValueError(
            f"bad incremental header {first!r}: write `-- materialized: incremental by "
            "load_id of <schema.table>` or `-- materialized: incremental by customer_id`"
        )
    return Increment(match.group(1), match.group(2))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start_layer(con: duckdb.DuckDBPyConnection) -> None:
    """Empty change sets for one run of a layer (temp tables: this connection only)."""
    con.execute(f"create or replace temp table {CHANGED_LOADS} (load_id varchar)")
    con.execute(f"create or replace temp table {CHANGED_CUSTOMERS} (customer_id varchar)")
    con.execute(
        f"create or replace temp table {_FINGERPRINTS} (source varchar, load_id varchar, "
        "source_rows bigint, line_number_sum hugeint)"
    )


def end_layer(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the change sets; in a failed transaction the rollback drops them instead."""
    try:
        for table in (CHANGED_LOADS, CHANGED_CUSTOMERS, _FINGERPRINTS):
            con.execute(f"drop table if exists {table}")
    except duckdb.TransactionException:
        pass  # the caller's rollback removes them, and the original error must show


def _fingerprints(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Each load's (row count, sum of line numbers) in `source`, once per layer run."""
    seen = con.execute(
        f"select count(*) from {_FINGERPRINTS} where source = $s", {"s": source}
    ).fetchone()[0]
    if not seen:
        con.execute(
            f"insert into {_FINGERPRINTS} select $s, load_id, count(*), sum(line_number) "
            f"from {source} group by load_id",
            {"s": source},
        )


def _sql_changed(con: duckdb.DuckDBPyConnection, relation: str, definition: str) -> bool:
    """Whether the model's SQL differs from the SQL its rows were built with."""
    row = con.execute(
        "select sql_sha256 from ops.incremental_models where relation = $r", {"r": relation}
    ).fetchone()
    return row is None or row[0] != hashlib.sha256(definition.encode()).hexdigest()


def _record_sql(con: duckdb.DuckDBPyConnection, relation: str, definition: str) -> None:
    con.execute("delete from ops.incremental_models where relation = $r", {"r": relation})
    con.execute(
        "insert into ops.incremental_models values ($r, $sha, $now)",
        {"r": relation, "sha": hashlib.sha256(definition.encode()).hexdigest(), "now": _now()},
    )


def _insert(con: duckdb.DuckDBPyConnection, relation: str, body: str) -> int:
    """Append the body's rows in the order it gives (dates ascending: the zone maps of the
    table then let a date filter skip old row groups)."""
    (preserve,) = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    con.execute("set preserve_insertion_order = true")
    try:
        return con.execute(f"insert into {relation} by name\n{body}").fetchone()[0]
    finally:
        con.execute(f"set preserve_insertion_order = {bool(preserve)}")


def _touched_customers(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """Customers of the model's rows of the changed loads join `changed_customers`."""
    con.execute(
        f"insert into {CHANGED_CUSTOMERS} select distinct customer_id from {relation} "
        f"where load_id in (select load_id from {CHANGED_LOADS}) and customer_id is not null"
    )


def refresh_by_load(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    source: str,
    body: str,
    *,
    definition: str | None = None,
    full: bool = False,
) -> int:
    """Fold new loads in, redo changed ones, drop gone ones; returns the rows written.

    `definition` (default: the body) is what a change of rebuilds the model whole.
    """
    definition = definition or body
    full = full or _sql_changed(con, relation, definition)
    _fingerprints(con, source)
    done = (
        "select load_id, source_rows, line_number_sum from ops.incremental_loads "
        "where relation = $r" + (" and false" if full else "")
    )
    con.execute(
        f"insert into {CHANGED_LOADS} "
        f"with current as (select * from {_FINGERPRINTS} where source = $s), "
        f"done as ({done}) "
        "select coalesce(current.load_id, done.load_id) from current "
        "full join done on current.load_id = done.load_id "
        "where current.source_rows is distinct from done.source_rows "
        "or current.line_number_sum is distinct from done.line_number_sum",
        {"r": relation, "s": source},
    )
    if full:
        con.execute(f"insert into {CHANGED_CUSTOMERS} select distinct customer_id from {relation}")
        con.execute(f"delete from {relation}")
    else:
        _touched_customers(con, relation)
        con.execute(
            f"delete from {relation} where load_id in (select load_id from {CHANGED_LOADS})"
        )
    written = _insert(con, relation, body)
    _touched_customers(con, relation)
    if full:
        con.execute("delete from ops.incremental_loads where relation = $r", {"r": relation})
    else:
        con.execute(
            "delete from ops.incremental_loads where relation = $r "
            f"and load_id in (select load_id from {CHANGED_LOADS})",
            {"r": relation},
        )
    con.execute(
        "insert into ops.incremental_loads select $r, load_id, source_rows, line_number_sum, "
        f"$now from {_FINGERPRINTS} where source = $s "
        f"and load_id in (select load_id from {CHANGED_LOADS})",
        {"r": relation, "s": source, "now": _now()},
    )
    con.execute(f"delete from {CHANGED_LOADS}")
    if full:
        _record_sql(con, relation, definition)
    return written


def refresh_by_customer(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    body: str,
    upstream: list[str],
    *,
    definition: str | None = None,
    full: bool = False,
) -> int:
    """Recompute the rows of every changed customer (all of them when rebuilt whole)."""
    definition = definition or body
    if full or _sql_changed(con, relation, definition):
        con.execute(f"delete from {relation}")
        for table in upstream:  # every customer the model can see becomes changed
            con.execute(
                f"insert into {CHANGED_CUSTOMERS} select distinct customer_id from {table} "
                "where customer_id is not null"
            )
        _record_sql(con, relation, definition)
    con.execute(
        f"create or replace temp table {CHANGED_CUSTOMERS} as "
        f"select distinct customer_id from {CHANGED_CUSTOMERS}"
    )
    if not con.execute(f"select count(*) from {CHANGED_CUSTOMERS}").fetchone()[0]:
        return 0
    con.execute(
        f"delete from {relation} where customer_id in "
        f"(select customer_id from {CHANGED_CUSTOMERS})"
    )
    return con.execute(f"insert into {relation} by name\n{body}").fetchone()[0]
