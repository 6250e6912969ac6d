"""The SQL steps of one load, inside its transaction: raw append, quarantine, stage.

Each step reads the scratch view (PII already replaced by pseudonyms) once; nothing is
UPDATEd row by row and the duplicate check compares one 128-bit digest per row.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb

from segments.core.sql import bind
from segments.ingest.casting import raw_struct, reason_expr, typed_statements
from segments.ingest.sources import ENTITY_COLUMNS, SourceMapping


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def append_raw(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    scratch: str,
    load_id: str,
    loaded_at: datetime,
) -> list[str]:
    """Append what was read (PII hashed) to raw.<source>, all text; return its data columns."""
    cols = [r[0] for r in con.execute(f"describe {scratch}").fetchall()]
    data_cols = [c for c in cols if c != "_line_number"]
    casts = ", ".join(f"{_q(c)}::varchar as {_q(c)}" for c in data_cols)
    con.execute(
        f"create table if not exists {mapping.raw_table} as select {casts}, "
        "''::varchar as _load_id, 0::bigint as _line_number, now()::timestamp as _loaded_at "
        f"from {scratch} with no data"
    )
    existing = {r[0] for r in con.execute(f"describe {mapping.raw_table}").fetchall()}
    for col in data_cols:
        if col not in existing:  # a newer export with an extra column: keep it, never drop
            con.execute(f"alter table {mapping.raw_table} add column {_q(col)} varchar")
    con.execute(
        f"insert into {mapping.raw_table} by name select {casts}, $load_id as _load_id, "
        f"_line_number, $loaded_at as _loaded_at from {scratch}",
        {"load_id": load_id, "loaded_at": loaded_at},
    )
    return data_cols


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


def quarantine(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    scratch: str,
    name: str,
    load_id: str,
    rejects: list[dict],
    date_floor: date,
    latest_allowed: datetime,
) -> tuple[int, int]:
    """Type every row into `_typed`; rows with a reason go to ops.quarantine: (good, bad)."""
    params = {"date_floor": date_floor, "latest_allowed": latest_allowed}
    for statement in typed_statements(mapping, scratch, "_typed"):
        con.execute(statement, bind(statement, params))
    insert = (
        "insert into ops.quarantine select $load_id, $source, $path, _line_number, "
        f"_reason_code, {reason_expr(mapping)}, {raw_struct(mapping)}, now()::timestamp "
        "from _typed where _reason_code is not null"
    )
    params.update(load_id=load_id, source=mapping.name, path=name)
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
    good, bad = con.execute(
        "select count(*) filter (where _reason_code is null), "
        "count(*) filter (where _reason_code is not null) from _typed"
    ).fetchone()
    return good, bad + len(rejects)


def _digest(columns: list[str], alias: str = "") -> str:
    """128-bit digest of a row's canonical values; NULL and '' stay distinct."""
    parts = ", ".join(f"coalesce({alias}{c}::varchar, chr(0))" for c in columns)
    return f"md5_number(concat_ws(chr(31), {parts}))"


def insert_staging(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, load_id: str
) -> tuple[int, int]:
    """Insert typed good rows not already present; return (staged, staged without customer).

    An exact duplicate repeats every mapped value of an earlier line in this load, or of a
    row already staged from this source (overlapping exports). Customers compare with their
    latest version only: an unchanged record is a duplicate, a changed one a new version.
    """
    targets = [c for c in ENTITY_COLUMNS[mapping.entity] if c in mapping.columns]
    extra = ""
    compare = list(targets)
    if mapping.entity == "transactions":
        # returns stay as negative lines; revenue is signed so net revenue sums correctly
        extra = (
            ", starts_with(upper(invoice_id), 'C') as is_cancellation, "
            "round(quantity * unit_price, 4) as line_revenue"
        )
    elif mapping.entity == "customers":
        extra = ", now()::timestamp as loaded_at"
    # Only staged rows sharing the first natural key with this load can repeat one of its
    # lines: digest just those (a required key, so NULLs cannot hide a match).
    key = mapping.natural_key[0] if mapping.natural_key else None
    near = (
        f" and {key} in (select {key} from _typed where _reason_code is null)"
        if key in mapping.columns and mapping.columns[key].required
        else ""
    )
    if mapping.entity == "customers":
        existing = (
            f"select {_digest(compare)} as d from (select * from {mapping.table} "
            f"where source = $source{near} qualify row_number() over (partition by customer_id "
            "order by loaded_at desc, load_id desc, line_number desc) = 1)"
        )
    else:
        existing = (
            f"select {_digest(compare)} as d from {mapping.table} where source = $source{near}"
        )
    # First line of each digest not already staged: a narrow aggregate, then a semi join, so
    # no sort of whole rows (a window over all columns cost 3x the insert).
    con.execute(
        f"create or replace temp table _keep as select min(_line_number) as l from ("
        f"select _line_number, {_digest(compare)} as d from _typed where _reason_code is null"
        f") g where not exists (select 1 from ({existing}) e where e.d = g.d) group by g.d",
        {"source": mapping.name},
    )
    n_keep, n_good = con.execute(
        "select (select count(*) from _keep), count(*) from _typed where _reason_code is null"
    ).fetchone()
    # usually nothing repeats: then a plain filter, which keeps the rows in line order
    keep = (
        "where _reason_code is null"
        if n_keep == n_good
        else "semi join _keep on _typed._line_number = _keep.l"
    )
    inserted = con.execute(
        f"insert into {mapping.table} by name select $source as source, $load_id as load_id, "
        f"_line_number as line_number, {', '.join(targets)}{extra} from _typed {keep}",
        {"source": mapping.name, "load_id": load_id},
    ).fetchone()[0]
    without_customer = 0
    if mapping.entity == "transactions":
        without_customer = con.execute(
            f"select count(*) from {mapping.table} where load_id = $l and customer_id is null",
            {"l": load_id},
        ).fetchone()[0]
    con.execute("drop table if exists _typed")
    con.execute("drop table if exists _keep")
    return inserted, without_customer


def export_raw_load(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    scratch: str,
    data_cols: list[str],
    load_id: str,
    loaded_at: datetime,
    lake_dir: Path,
) -> Path:
    """Parquet copy of one load under lake/raw/<source>/, written then renamed into place.

    Rows are not sorted (a sort of the whole load for nothing): `_line_number` says where
    each came from.
    """
    target = lake_dir / "raw" / mapping.name / f"load_id={load_id}" / "data.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".parquet.tmp")
    casts = ", ".join(f"{_q(c)}::varchar as {_q(c)}" for c in data_cols)
    tmp_sql = str(tmp).replace("'", "''")
    con.execute(
        f"copy (select {casts}, $load_id as _load_id, _line_number, "
        f"$loaded_at::timestamp as _loaded_at from {scratch}) "
        f"to '{tmp_sql}' (format parquet)",
        {"load_id": load_id, "loaded_at": loaded_at},
    )
    tmp.replace(target)
    return target
