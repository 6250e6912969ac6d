"""Read a source file into a scratch table of text columns plus its line number.

DuckDB does the reading (streaming, no whole-file pandas load). Lines DuckDB cannot split
into the expected fields come back as rejects with their line number, never dropped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pandas as pd

from segments.sources import SourceMapping


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
    return mapping.format


def read_into(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path,
              table: str, rejects_table: str) -> list[dict]:
    """Create `table` (all varchar + _line_number) from the file; return rejected lines."""
    fmt = detect_format(mapping, path)
    if path.suffix.lower() == ".gz":
        check_gzip(path)
    reader = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl,
              "xlsx": _read_xlsx}[fmt]
    try:
        rejects = reader(con, mapping, path, table, rejects_table)
    except FileUnreadableError:
        raise
    except (duckdb.Error, OSError, ValueError, KeyError, EOFError) as exc:
        raise FileUnreadableError(
            f"{path}: cannot be read as {fmt} ({_first_line(exc)}). Check that the file is "
            f"complete (not truncated or corrupt), that its encoding is "
            f"{mapping.csv.encoding if fmt == 'csv' else 'as expected'}, and that "
            f"mapping '{mapping.name}' describes its format."
        ) from exc
    _check_columns(con, mapping, path, table)
    return rejects


def check_gzip(path: Path) -> None:
    """Decompress to the end: DuckDB reads a truncated gzip without noticing the lost tail."""
    import gzip
    import zlib

    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise FileUnreadableError(
            f"{path}: the gzip file is corrupt or truncated ({exc}). Copy the export again; "
            "no rows of it were loaded."
        ) from exc


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def _check_columns(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path,
                   table: str) -> None:
    """Missing required columns fail the file; missing optional ones become empty."""
    found = [r[0] for r in con.execute(f"describe {table}").fetchall()]
    missing_required = [c.source for c in mapping.columns.values()
                        if c.required and c.source not in found]
    if missing_required:
        shown = [c for c in found if c != "_line_number"]
        raise FileUnreadableError(
            f"{path}: missing required column(s) {missing_required}; the file has {shown}. "
            f"Fix the export or the column names in source mapping '{mapping.name}'."
        )
    for column in mapping.columns.values():
        if column.source not in found:
            con.execute(f'alter table {table} add column "{column.source}" varchar')


def _read_csv(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path,
              table: str, rejects_table: str) -> list[dict]:
    opts = mapping.csv
    encoding = opts.encoding.lower().replace("_", "-")
    if encoding in {"latin1", "iso-8859-1"}:
        encoding = "latin-1"
    con.execute(
        f"create temp table {table} as select * from read_csv($path, all_varchar = true, "
        "header = $header, delim = $delim, quote = $quote, escape = $escape, "
        "encoding = $encoding, store_rejects = true, "
        f"rejects_table = '{rejects_table}', rejects_scan = '{rejects_table}_scan', "
        "compression = 'auto', null_padding = false, strict_mode = true)",
        {"path": str(path), "header": opts.header, "delim": opts.delimiter, "quote": opts.quote,
         "escape": opts.escape, "encoding": encoding},
    )
    rows = con.execute(
        f"select line, error_type::varchar, error_message, csv_line from {rejects_table} "
        "order by line"
    ).fetchall()
    con.execute(f"drop table if exists {rejects_table}_scan")
    has_pii = any(c.pii for c in mapping.columns.values())
    rejects = []
    for line, error_type, error_message, csv_line in rows:
        raw = ({"line_sha256": hashlib.sha256(csv_line.encode()).hexdigest(),
                "note": "raw text withheld: this source has PII columns"}
               if has_pii else {"line": csv_line})
        rejects.append({"line": int(line), "reason": f"{error_type}: {error_message}"[:500],
                        "raw": raw})
    _number_lines(con, table, first_line=2 if opts.header else 1,
                  rejected={r["line"] for r in rejects})
    return rejects


def _number_lines(con: duckdb.DuckDBPyConnection, table: str, *, first_line: int,
                  rejected: set[int]) -> None:
    """Give each kept row its line in the file: the k-th line that was not rejected."""
    con.execute(f"alter table {table} add column _line_number bigint")
    if not rejected:
        con.execute(f"update {table} set _line_number = rowid + {first_line}")
        return
    n_rows = con.execute(f"select count(*) from {table}").fetchone()[0]
    con.register("_rejected_lines", pd.DataFrame({"line": sorted(rejected)}, dtype="int64"))
    con.execute(
        "create temp table _kept_lines as select line, row_number() over (order by line) - 1 "
        f"as ord from (select range as line from range({first_line}, "
        f"{first_line + n_rows + len(rejected)})) where line not in "
        "(select line from _rejected_lines)"
    )
    con.execute(f"update {table} set _line_number = k.line from _kept_lines k "
                f"where {table}.rowid = k.ord")
    con.execute("drop table _kept_lines")
    con.unregister("_rejected_lines")


def _read_parquet(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path,
                  table: str, rejects_table: str) -> list[dict]:
    cols = [r[0] for r in con.execute("describe select * from read_parquet($p)",
                                      {"p": str(path)}).fetchall()]
    select = ", ".join(f'"{c}"::varchar as "{c}"' for c in cols)
    con.execute(f"create temp table {table} as select {select} from read_parquet($p)",
                {"p": str(path)})
    _number_lines(con, table, first_line=1, rejected=set())
    return []


def _read_jsonl(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path,
                table: str, rejects_table: str) -> list[dict]:
    """Read JSON lines as text first, so an invalid line is quarantined with its number."""
    con.execute(
        "create temp table _json_lines as select line, rowid + 1 as _line_number from "
        "read_csv($p, columns = {'line': 'VARCHAR'}, header = false, delim = '\x01', "
        "quote = '', escape = '', auto_detect = false, compression = 'auto') "
        "where trim(line) <> ''",
        {"p": str(path)},
    )
    sources = [c.source for c in mapping.columns.values()]
    extract = ", ".join(f"json_extract_string(line, $k{i}) as \"{c}\""
                        for i, c in enumerate(sources))
    keys = {f"k{i}": f"$.\"{c}\"" for i, c in enumerate(sources)}
    con.execute(f"create temp table {table} as select {extract}, _line_number from _json_lines "
                "where json_valid(line) and json_type(line::json) = 'OBJECT'", keys)
    bad = con.execute("select _line_number, line from _json_lines where not json_valid(line) "
                      "or json_type(line::json) <> 'OBJECT' order by 1").fetchall()
    con.execute("drop table _json_lines")
    has_pii = any(c.pii for c in mapping.columns.values())
    return [{"line": int(n), "reason": "INVALID JSON: the line is not one JSON object",
             "raw": ({"line_sha256": hashlib.sha256(text.encode()).hexdigest()} if has_pii
                     else {"line": text})} for n, text in bad]


def _read_xlsx(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path,
               table: str, rejects_table: str, chunk_rows: int = 50_000) -> list[dict]:
    """Excel through openpyxl's streaming reader, in chunks, as text."""
    from openpyxl import load_workbook  # only Excel sources pay for the import

    book = load_workbook(path, read_only=True, data_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else f"column{i}"
              for i, h in enumerate(next(rows, ()))]
    if not header:
        raise FileUnreadableError(f"{path}: the first sheet is empty")
    created = False
    chunk: list[list[str | None]] = []
    line = 1

    def flush() -> None:
        nonlocal created
        frame = pd.DataFrame(chunk, columns=[*header, "_line_number"])
        frame[header] = frame[header].astype("string")
        con.register("_xlsx_chunk", frame)
        verb = f"insert into {table} " if created else f"create temp table {table} as "
        con.execute(verb + "select * from _xlsx_chunk")
        con.unregister("_xlsx_chunk")
        created = True
        chunk.clear()

    for values in rows:
        line += 1
        cells = [_excel_text(v) for v in values[: len(header)]]
        chunk.append([*cells, *([None] * (len(header) - len(cells))), line])
        if len(chunk) >= chunk_rows:
            flush()
    if chunk or not created:
        flush()
    book.close()
    return []


def _excel_text(value: object) -> str | None:
    """Excel cells as the text a CSV export would hold (dates in ISO form)."""
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)
