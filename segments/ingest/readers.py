"""Read a source file into a scratch relation of text columns plus its line number.

DuckDB does the reading (streaming, no whole-file pandas load). Lines DuckDB cannot split
into the expected fields come back as rejects with their line number, never dropped.
Each reader fills the temp table `<table>_data`; `finish_scratch` puts the view `<table>`
over it with `_line_number` and every mapped column (NULL when an optional one is absent).
"""

from __future__ import annotations

import csv
import gzip
import zlib
from pathlib import Path

import duckdb

from segments.ingest.formats import read_jsonl, read_xlsx, reject_raw
from segments.ingest.sources import SourceMapping

# DuckDB's CSV error types that mean "these bytes are not text in the declared encoding".
_ENCODING_ERRORS = {"INVALID UNICODE", "INVALID ENCODING"}


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
    """Create the scratch view `table` (varchar columns + _line_number); return rejected lines."""
    fmt = detect_format(mapping, path)
    if path.stat().st_size == 0:
        raise FileUnreadableError(f"{path}: the file is empty (0 bytes); export it again")
    if path.suffix.lower() == ".gz":
        check_gzip(path)
    reader = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": read_jsonl, "xlsx": read_xlsx}
    try:
        rejects, first_line = reader[fmt](con, mapping, path, f"{table}_data")
    except FileUnreadableError:
        raise
    except (duckdb.Error, OSError, ValueError, KeyError, EOFError, zlib.error) as exc:
        encoding = mapping.csv.encoding if fmt == "csv" else "as expected"
        raise FileUnreadableError(
            f"{path}: cannot be read as {fmt} ({first_line_of(exc)}). Check that the file is "
            f"complete (not truncated or corrupt), that its encoding is {encoding}, and that "
            f"mapping '{mapping.name}' describes its format."
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


def first_line_of(exc: Exception) -> str:
    """The first line of an error, short enough for ops.loads.message."""
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


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
    missing = [c.source for c in mapping.columns.values() if c.required and c.source not in found]
    if missing:
        shown = [c for c in found if c != "_line_number"]
        raise FileUnreadableError(
            f"{label}: missing required column(s) {missing}; the file has {shown}. "
            f"Fix the export or the column names in source mapping '{mapping.name}'."
        )
    absent = [c.source for c in mapping.columns.values() if c.source not in found]
    nulls = "".join(f', null::varchar as "{_esc(c)}"' for c in dict.fromkeys(absent))
    if first_line is None:  # the reader numbered its rows itself
        con.execute(f"create or replace temp view {table} as select *{nulls} from {data}")
        return
    # Rejected lines are not in the table: row k sits after every rejected line whose
    # "gap ordinal" (line - first_line - rejects before it) is at most k. An ASOF join adds
    # that count without an UPDATE over the whole table.
    con.execute(
        "create or replace temp table _reject_gaps as select gap, max(n_before) as n_before "
        "from (select line - $first - (row_number() over (order by line) - 1) as gap, "
        "row_number() over (order by line) as n_before "
        "from (select unnest($lines::bigint[]) as line)) group by gap",  # adjacent rejects
        {"first": first_line, "lines": sorted(r["line"] for r in rejects)},
    )
    first = int(first_line)
    con.execute(
        f"create or replace temp view {table} as select d.*{nulls}, d.rowid + {first} + "
        "coalesce(g.n_before, 0) as _line_number "
        f"from {data} d asof left join _reject_gaps g on d.rowid >= g.gap"
        if rejects
        else f"create or replace temp view {table} as select *{nulls}, rowid + {first} "
        f"as _line_number from {data}"
    )


def _esc(name: str) -> str:
    return name.replace('"', '""')


def _encoding(name: str) -> str:
    encoding = name.lower().replace("_", "-")
    return {
        "latin1": "latin-1",
        "iso-8859-1": "latin-1",
        "utf8": "utf-8",
        "utf-8-sig": "utf-8",
    }.get(encoding, encoding)


def csv_columns(path: Path, mapping: SourceMapping) -> list[str]:
    """Column names from the first line (DuckDB's column0... when there is no header).

    Reading them ourselves lets DuckDB skip its sniffer, which gives up on a file whose
    sample holds a broken quote instead of quarantining that one line.
    """
    opts = mapping.csv
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    encoding = "utf-8" if _encoding(opts.encoding) == "utf-8" else opts.encoding
    with opener(path, "rt", encoding=encoding, errors="replace", newline="") as handle:
        first = next(csv.reader(handle, delimiter=opts.delimiter, quotechar=opts.quote), [])
    if not first:
        raise FileUnreadableError(f"{path}: the first line is empty; nothing to read")
    if opts.header:
        return [name.strip().lstrip("\ufeff") or f"column{i}" for i, name in enumerate(first)]
    width = len(str(len(first) - 1))
    return [f"column{i:0{width}d}" for i in range(len(first))]


def _read_csv(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path, table: str
) -> tuple[list[dict], int]:
    opts = mapping.csv
    columns = {name: "VARCHAR" for name in csv_columns(path, mapping)}
    con.execute(
        f"create or replace temp table {table} as select * from read_csv($path, "
        "columns = $columns, auto_detect = false, header = $header, delim = $delim, "
        "quote = $quote, escape = $escape, encoding = $encoding, store_rejects = true, "
        "rejects_table = '_rejects', rejects_scan = '_rejects_scan', compression = 'auto', "
        "null_padding = false, strict_mode = true)",
        {
            "path": str(path),
            "columns": columns,
            "header": opts.header,
            "delim": opts.delimiter,
            "quote": opts.quote,
            "escape": opts.escape,
            "encoding": _encoding(opts.encoding),
        },
    )
    rows = con.execute(
        "select line, first(error_type::varchar order by column_idx), "
        "first(error_message order by column_idx), first(csv_line) from _rejects "
        "group by line order by line"
    ).fetchall()
    con.execute("drop table if exists _rejects")
    con.execute("drop table if exists _rejects_scan")
    rejects = []
    for line, error_type, error_message, csv_line in rows:
        code = "invalid_encoding" if error_type in _ENCODING_ERRORS else "malformed_line"
        reason = f"{error_type}: {error_message}"[:500]
        rejects.append(
            {
                "line": int(line),
                "code": code,
                "reason": reason,
                "raw": reject_raw(mapping, csv_line or ""),
            }
        )
    return rejects, 2 if opts.header else 1


def _read_parquet(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path, table: str
) -> tuple[list[dict], int]:
    cols = [
        r[0]
        for r in con.execute(
            "describe select * from read_parquet($p)", {"p": str(path)}
        ).fetchall()
    ]
    select = ", ".join(f'"{_esc(c)}"::varchar as "{_esc(c)}"' for c in cols)
    con.execute(
        f"create or replace temp table {table} as select {select} from read_parquet($p)",
        {"p": str(path)},
    )
    return [], 1
