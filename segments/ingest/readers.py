"""Read a source file into a scratch relation: the mapping's declared columns and a line number.

DuckDB does the reading (streaming, no whole-file pandas load). Only the columns the mapping
declares are read and kept, in the file's own types (Parquet stays typed; text formats are
text): an undeclared column (an e-mail, a phone) never reaches raw.* or the lake. Lines
DuckDB cannot split come back as rejects with their line number, never dropped. Each reader
fills the temp table `<table>_data`; `finish_scratch` puts the view `<table>` over it with
`_line_number` and every declared column (NULL when an optional one is absent).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import duckdb

from segments.ingest.formats import (
    line_number_sql,
    read_csv_file,
    read_jsonl,
    read_whitespace,
    read_xlsx,
)
from segments.ingest.sources import WHITESPACE, SourceMapping


class FileUnreadableError(RuntimeError):
    """The file as a whole cannot be loaded; the message says which file and what to fix."""


def detect_format(mapping: SourceMapping, path: Path) -> str:
    """The mapping's format, unless the file's suffix says otherwise."""
    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes:
        return "parquet"
    if ".jsonl" in suffixes or ".ndjson" in suffixes:
        return "jsonl"
    if ".xlsx" in suffixes:
        return "xlsx"
    if ".csv" in suffixes or ".tsv" in suffixes or ".txt" in suffixes:
        return "csv"
    return mapping.format


def read_into(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path, table: str
) -> list[dict]:
    """Create the scratch view `table` (declared columns + _line_number); return rejected lines.

    Any failure to read the file (a corrupt zip, a wrong format, an option the file does not
    fit) is a FileUnreadableError naming the file: the caller records it and goes on.
    """
    fmt = detect_format(mapping, path)
    if path.stat().st_size == 0:
        raise FileUnreadableError(f"{path}: the file is empty (0 bytes); export it again")
    if path.suffix.lower() == ".gz":
        check_gzip(path)
    if fmt == "csv":
        reader = read_whitespace if mapping.csv.delimiter == WHITESPACE else read_csv_file
    else:
        reader = {"parquet": _read_parquet, "jsonl": read_jsonl, "xlsx": read_xlsx}[fmt]
    try:
        rejects, first_line = reader(con, mapping, path, f"{table}_data")
    except FileUnreadableError:
        raise
    except Exception as exc:
        raise FileUnreadableError(
            f"{path}: cannot be read as {fmt} ({first_line_of(exc)}). Check that the file is "
            f"complete (not truncated or corrupt), that it is {fmt}"
            + (f" in {mapping.csv.encoding}" if fmt == "csv" else "")
            + f", and that mapping '{mapping.name}' describes its format."
        ) from exc
    finish_scratch(con, mapping, str(path), table, first_line, rejects)
    return rejects


def check_gzip(path: Path) -> None:
    """Decompress to the end: DuckDB reads a truncated gzip without noticing the lost tail."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise FileUnreadableError(
            f"{path}: the gzip file is corrupt or truncated ({exc}). Copy the export again; "
            "no rows of it were loaded."
        ) from exc


def first_line_of(exc: BaseException) -> str:
    """The first line of an error, short enough for ops.loads.message."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def finish_scratch(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    label: str,
    table: str,
    first_line: int | None,
    rejects: list[dict],
) -> None:
    """Check the columns, then number the rows: the k-th row is the k-th line not rejected."""
    data = f"{table}_data"
    found = [r[0] for r in con.execute(f"describe {data}").fetchall()]
    missing = [c for c in mapping.required_sources() if c not in found]
    if missing:
        shown = [c for c in found if c != "_line_number"]
        raise FileUnreadableError(
            f"{label}: missing required column(s) {missing}; the file has {shown} of the "
            f"declared ones. Fix the export, or the column names or csv options (delimiter, "
            f"header, skip_rows) of source mapping '{mapping.name}'."
        )
    absent = [c for c in sorted(mapping.declared_sources) if c not in found]
    nulls = "".join(f', null::varchar as "{_esc(c)}"' for c in absent)
    if first_line is None:  # the reader numbered its rows itself
        con.execute(f"create or replace temp view {table} as select *{nulls} from {data}")
        return
    con.execute(
        f"create or replace temp view {table} as select d.*{nulls}, "
        f"{line_number_sql(con, first_line, rejects)} as _line_number from {data} d"
        + (" asof left join _reject_gaps g on d.rowid >= g.gap" if rejects else "")
    )


def _esc(name: str) -> str:
    return name.replace('"', '""')


def _read_parquet(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path, table: str
) -> tuple[list[dict], None]:
    """The declared columns in the file's own types (no cast to text), numbered as stored.

    A view over the file, not a copy: Parquet is columnar, so each later step reads only the
    columns it needs straight from the file (the path is bound by the relation API, never
    written into SQL).
    """
    relation = con.read_parquet(str(path), file_row_number=True)
    keep = [c for c in relation.columns if c in mapping.declared_sources]
    select = "".join(f'"{_esc(c)}", ' for c in keep)
    relation.project(f"{select}file_row_number + 1 as _line_number").create_view(table)
    return [], None


def drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a temp table or view of that name, whichever it is."""
    kind = con.execute(
        "select 'view' from duckdb_views() where view_name = $n and temporary "
        "union all select 'table' from duckdb_tables() where table_name = $n and temporary",
        {"n": name},
    ).fetchone()
    if kind is not None:
        con.execute(f"drop {kind[0]} {name}")
