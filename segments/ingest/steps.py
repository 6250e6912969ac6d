"""The SQL steps of one load, inside its transaction: raw append, type + check, quarantine,
de-duplicate, stage.

Each step reads the scratch view (PII already pseudonyms) or the typed table once; nothing is
UPDATEd row by row. Duplicates are found with DuckDB's native 64-bit hash of the compared
values, and only the (rare) rows whose hash repeats are compared value by value.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb

from segments.core.sql import bind, run_model
from segments.ingest.casting import raw_columns, reason_expr, typed_statements
from segments.ingest.sources import VERSIONED_ENTITIES, SourceMapping

TYPED = "_typed"  # the load's typed rows: entity columns, flags, _line_number, _reason_code


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"describe {relation}").fetchall()}


def append_raw(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    scratch: str,
    load_id: str,
    loaded_at: datetime,
) -> None:
    """Append the declared columns as read (PII hashed) to raw.<source>, in their own types.

    A newer export with an extra column adds it; a column whose type changed between files
    (a CSV after a Parquet) becomes text, so no value is ever refused or lost.
    """
    types = column_types(con, scratch)
    data = [c for c in types if c in mapping.declared_sources]
    con.execute(
        f"create table if not exists {mapping.raw_table} as select "
        + "".join(f"{_q(c)}, " for c in data)
        + "''::varchar as _load_id, 0::bigint as _line_number, now()::timestamp as _loaded_at "
        f"from {scratch} with no data"
    )
    existing = column_types(con, mapping.raw_table)
    casts = []
    for col in data:
        if col not in existing:
            con.execute(f"alter table {mapping.raw_table} add column {_q(col)} {types[col]}")
        elif existing[col] != types[col] and existing[col] != "VARCHAR":
            con.execute(f"alter table {mapping.raw_table} alter {_q(col)} type varchar")
        cast = existing.get(col, types[col]) != types[col]
        casts.append(f"{_q(col)}::varchar as {_q(col)}" if cast else _q(col))
    con.execute(
        f"insert into {mapping.raw_table} by name select {', '.join([*casts, ''])}"
        f"$load_id as _load_id, _line_number, $loaded_at as _loaded_at from {scratch}",
        {"load_id": load_id, "loaded_at": loaded_at},
    )


def type_rows(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    scratch: str,
    date_floor: date,
    latest_allowed: datetime,
) -> tuple[int, int]:
    """Type every row into `_typed` with its reason code: (good, bad) counts."""
    params = {"date_floor": date_floor, "latest_allowed": latest_allowed}
    for statement in typed_statements(mapping, column_types(con, scratch), scratch, TYPED):
        con.execute(statement, bind(statement, params))
    good, bad = con.execute(
        "select count(*) filter (where _reason_code is null), "
        f"count(*) filter (where _reason_code is not null) from {TYPED}"
    ).fetchone()
    return good, bad


def quarantine(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    scratch: str,
    name: str,
    load_id: str,
    rejects: list[dict],
    date_floor: date,
    latest_allowed: datetime,
) -> None:
    """Rows with a reason, and lines the reader rejected, into ops.quarantine."""
    insert = (
        "insert into ops.quarantine select $load_id, $source, $path, t._line_number, "
        f"t._reason_code, {reason_expr(mapping)}, s._raw_values, now()::timestamp "
        f"from {TYPED} t join (select _line_number as _ln, {raw_columns(mapping)} "
        f"from {scratch} where _line_number in (select _line_number from {TYPED} "
        "where _reason_code is not null)) s on s._ln = t._line_number "
        "where t._reason_code is not null"
    )
    params = {
        "load_id": load_id,
        "source": mapping.name,
        "path": name,
        "date_floor": date_floor,
        "latest_allowed": latest_allowed,
    }
    con.execute(insert, bind(insert, params))
    if rejects:
        con.executemany(
            "insert into ops.quarantine values (?, ?, ?, ?, ?, ?, ?, now()::timestamp)",
            [
                [
                    load_id,
                    mapping.name,
                    name,
                    r["line"],
                    r.get("code", "malformed_line"),
                    r["reason"],
                    json.dumps(r["raw"]),
                ]
                for r in rejects
            ],
        )


def top_reason(con: duckdb.DuckDBPyConnection, load_id: str) -> tuple[str, int, str] | None:
    """The most frequent reason code of a load's quarantine, its count and one example."""
    return con.execute(
        "select reason_code, count(*), min(reason) from ops.quarantine where load_id = $l "
        "group by 1 order by 2 desc, 1 limit 1",
        {"l": load_id},
    ).fetchone()


def supersede(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, name: str) -> None:
    """A changed version of a file replaces the rows its earlier version staged."""
    old = con.execute(
        "select load_id from ops.loads where source = $source and path = $path "
        "and status = 'loaded'",
        {"source": mapping.name, "path": name},
    ).fetchall()
    for (load_id,) in old:
        con.execute(f"delete from {mapping.table} where load_id = $l", {"l": load_id})
        con.execute(
            "update ops.loads set status = 'superseded', message = 'a newer version "
            "of this file replaced its rows' where load_id = $l",
            {"l": load_id},
        )


def _same(columns: list[str], a: str, b: str) -> str:
    return " and ".join(f"{a}.{c} is not distinct from {b}.{c}" for c in columns)


def find_duplicates(con: duckdb.DuckDBPyConnection, mapping: SourceMapping) -> int:
    """`_dups`: good lines repeating every mapped value of an earlier good line of this load or
    of a staged row of this source (customers: its latest version). Returns how many.

    The typed rows carry one native hash of their values (`_h`, no text digest of every
    column); only rows whose hash repeats are compared value by value, so a hash collision is
    never a duplicate.
    """
    cols = list(mapping.targets)
    key = mapping.natural_key[0] if mapping.natural_key else None
    near = (  # only staged rows sharing the first key value with this load can match
        f" and {key} in (select {key} from {TYPED} where _reason_code is null)"
        if key is not None and mapping.is_required(key)
        else ""
    )
    staged = f"select * from {mapping.table} where source = $source{near}"
    if mapping.entity in VERSIONED_ENTITIES:
        staged += (
            " qualify row_number() over (partition by customer_id "
            "order by loaded_at desc, load_id desc, line_number desc) = 1"
        )
    con.execute(
        f"create or replace temp table _staged as select * from (select {', '.join(cols)}, "
        f"hash({', '.join(cols)}) as _h from ({staged})) "
        f"where _h in (select _h from {TYPED} where _reason_code is null)",
        {"source": mapping.name},
    )
    con.execute(
        f"create or replace temp table _candidates as select * from {TYPED} "
        "where _reason_code is null and _h in (select _h from (select _h from "
        f"{TYPED} where _reason_code is null group by _h having count(*) > 1) "
        "union all select _h from _staged)"
    )
    con.execute(
        "create or replace temp table _dups as select c._line_number from _candidates c "
        f"where exists (select 1 from _candidates e where e._h = c._h and {_same(cols, 'e', 'c')} "
        "and e._line_number < c._line_number) "
        f"or exists (select 1 from _staged e where e._h = c._h and {_same(cols, 'e', 'c')})"
    )
    for table in ("_staged", "_candidates"):
        con.execute(f"drop table {table}")
    return con.execute("select count(*) from _dups").fetchone()[0]


def insert_staging(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    sql_dir: Path,
    load_id: str,
    loaded_at: datetime,
    duplicates: int,
) -> tuple[int, int]:
    """Stage the good rows that are not duplicates through warehouse/load/<table>.sql;
    return (staged, staged without customer)."""
    repeated = " anti join _dups using (_line_number)" if duplicates else ""
    con.execute(
        f"create or replace temp view _load_lines as select * from {TYPED}{repeated} "
        "where _reason_code is null"
    )
    table = mapping.table.split(".")[1]
    params = {"source": mapping.name, "load_id": load_id, "loaded_at": loaded_at}
    staged = run_model(con, sql_dir, "load", table, params, target=mapping.table)
    without_customer = 0
    if mapping.entity == "transactions":
        without_customer = con.execute(
            f"select count(*) from {mapping.table} where load_id = $l and customer_id is null",
            {"l": load_id},
        ).fetchone()[0]
    return staged, without_customer


def export_raw_load(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    scratch: str,
    load_id: str,
    loaded_at: datetime,
    lake_dir: Path,
) -> Path:
    """Parquet copy of one load's raw rows under lake/raw/<source>/, written then renamed.

    Written from the load's scratch rows (already hashed, still in memory): the same rows
    as raw.<source>, without reading the landing file or the raw table again.
    """
    target = lake_dir / "raw" / mapping.name / f"load_id={load_id}" / "data.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".parquet.tmp")
    data = [c for c in column_types(con, scratch) if c in mapping.declared_sources]
    con.execute(
        f"copy (select {''.join(f'{_q(c)}, ' for c in data)}$load_id as _load_id, "
        f"_line_number, $loaded_at::timestamp as _loaded_at from {scratch}) "
        "to $path (format parquet)",
        {"load_id": load_id, "loaded_at": loaded_at, "path": str(tmp)},
    )
    tmp.replace(target)
    return target
