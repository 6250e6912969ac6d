"""The SQL steps of one load, inside its transaction: raw append, type + check, quarantine,
de-duplicate, stage.

Each step reads the scratch view (PII already pseudonyms) once, typing it as it reads (the
view `_typed_all`); what is stored besides raw, staging and quarantine is narrow (`_checks`:
line number, reason code, duplicate key). Nothing is UPDATEd row by row. Duplicates are looked
for among the lines whose natural key repeats (in the load or in staging) and only those are
compared value by value.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb

from segments.core.sql import bind, run_model
from segments.ingest.casting import duplicate_key, raw_columns, reason_expr, typed_select
from segments.ingest.sources import VERSIONED_ENTITIES, SourceMapping

TYPED_ALL = "_typed_all"  # view: every row typed and checked (parsed again at each read)
CHECKS = "_checks"  # every row's _line_number, _reason_code, duplicate key _k, _no_customer
TYPED = "_typed"  # the typed rows the quarantine needs (bad ones), stored


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


def _literal(value: date | datetime) -> str:
    """A date or timestamp of ours as SQL (a view cannot hold bound parameters)."""
    kind = "timestamp" if isinstance(value, datetime) else "date"
    return f"{kind} '{value.isoformat(sep=' ') if kind == 'timestamp' else value.isoformat()}'"


def _date_constants(date_floor: date, latest_allowed: datetime) -> dict[str, str]:
    """The typing SELECT's `$date_floor` and `$latest_allowed` as SQL literals."""
    return {"date_floor": _literal(date_floor), "latest_allowed": _literal(latest_allowed)}


def type_rows(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    scratch: str,
    date_floor: date,
    latest_allowed: datetime,
) -> tuple[int, int]:
    """Type and check every row in one pass: (good, bad) counts.

    What is stored is narrow: each row's line number, reason code and duplicate key
    (`_checks`), and the typed bad rows for the quarantine (`_typed`). The typing itself is
    the view `_typed_all`, read again only by the duplicate check (the few lines whose key
    repeats) and by the staging insert: parsing a row again costs less than writing and
    reading back a typed copy of every row (and a 10M-line copy does not fit in memory).
    """
    constants = _date_constants(date_floor, latest_allowed)
    types = column_types(con, scratch)
    con.execute(
        f"create or replace temp view {TYPED_ALL} as "
        f"{typed_select(mapping, types, scratch, constants)}"
    )
    con.execute(
        f"create or replace temp table {CHECKS} as "
        f"select _line_number, _reason_code, _k, customer_id is null as _no_customer "
        f"from {TYPED_ALL}"
    )
    good, bad = con.execute(
        "select count(*) filter (where _reason_code is null), "
        f"count(*) filter (where _reason_code is not null) from {CHECKS}"
    ).fetchone()
    bad_lines = f"select _line_number from {CHECKS} where _reason_code is not null"
    con.execute(
        f"create or replace temp table {TYPED} as "
        + typed_lines(mapping, types, scratch, bad_lines if bad else "select null", constants)
    )
    return good, bad


def typed_lines(
    mapping: SourceMapping,
    types: dict[str, str],
    scratch: str,
    lines: str,
    constants: dict[str, str],
) -> str:
    """The typing SELECT of only the scratch rows whose line number `lines` lists: the rows
    are picked before they are parsed."""
    picked = f"(select * from {scratch} where _line_number in ({lines}))"
    return typed_select(mapping, types, picked, constants)


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


def find_duplicates(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    scratch: str,
    date_floor: date,
    latest_allowed: datetime,
) -> int:
    """`_dups`: good lines repeating every mapped value of an earlier good line of this load or
    of a staged row of this source (customers: its latest version). Returns how many.

    Two lines that repeat every value share their natural key, so only the good lines whose
    key (its native hash `_k`, see `duplicate_key`) repeats in the load or is already staged
    are typed again and compared value by value; a hash collision is never a duplicate. A
    source with nothing staged yet (a first load) skips the staged side.
    """
    constants = _date_constants(date_floor, latest_allowed)
    cols = list(mapping.targets)
    good_keys = f"(select _k from {CHECKS} where _reason_code is null)"
    any_staged = con.execute(
        f"select exists (select 1 from {mapping.table} where source = $source)",
        {"source": mapping.name},
    ).fetchone()[0]
    repeated = [f"select _k from {good_keys} group by _k having count(*) > 1"]
    if any_staged:
        staged = f"select * from {mapping.table} where source = $source"
        if mapping.entity in VERSIONED_ENTITIES:  # every version of this load's customers
            staged += (
                f" and customer_id in (select customer_id from {TYPED_ALL} "
                "where _reason_code is null)"
                " qualify row_number() over (partition by customer_id "
                "order by loaded_at desc, load_id desc, line_number desc) = 1"
            )
        con.execute(
            f"create or replace temp table _staged as select * from (select {', '.join(cols)}, "
            f"{duplicate_key(mapping)} as _k from ({staged})) where _k in {good_keys}",
            {"source": mapping.name},
        )
        repeated.append("select _k from _staged")
    con.execute(
        f"create or replace temp table _candidate_lines as select _line_number from {CHECKS} "
        f"where _reason_code is null and _k in ({' union all '.join(repeated)})"
    )
    if not con.execute("select count(*) from _candidate_lines").fetchone()[0]:
        con.execute(
            "create or replace temp table _dups as select 0::bigint as _line_number limit 0"
        )
        for table in ("_staged", "_candidate_lines"):
            con.execute(f"drop table if exists {table}")
        return 0  # no key repeats: nothing to type again or compare
    lines = "select _line_number from _candidate_lines"
    con.execute(
        "create or replace temp table _candidates as "
        + typed_lines(mapping, column_types(con, scratch), scratch, lines, constants)
    )
    repeats = [
        (
            "exists (select 1 from _candidates e where e._k = c._k and "
            f"{_same(cols, 'e', 'c')} and e._line_number < c._line_number)"
        )
    ]
    if any_staged:
        repeats.append(
            f"exists (select 1 from _staged e where e._k = c._k and {_same(cols, 'e', 'c')})"
        )
    con.execute(
        "create or replace temp table _dups as select c._line_number from _candidates c "
        f"where {' or '.join(repeats)}"
    )
    for table in ("_staged", "_candidates", "_candidate_lines"):
        con.execute(f"drop table if exists {table}")
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
    left_out = [f"select _line_number from {CHECKS} where _reason_code is not null"]
    if duplicates:
        left_out.append("select _line_number from _dups")
    con.execute(  # typed again as it is staged: one more read of the scratch rows
        f"create or replace temp view _load_lines as select * from {TYPED_ALL} "
        f"anti join ({' union all '.join(left_out)}) using (_line_number)"
    )
    table = mapping.table.split(".")[1]
    params = {"source": mapping.name, "load_id": load_id, "loaded_at": loaded_at}
    staged = run_model(con, sql_dir, "load", table, params, target=mapping.table)
    without_customer = 0
    if mapping.entity == "transactions":  # from the checks: neither staging nor a re-parse
        without_customer = con.execute(
            f"select count(*) from {CHECKS} where _reason_code is null and _no_customer"
            + (" and _line_number not in (select _line_number from _dups)" if duplicates else "")
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
