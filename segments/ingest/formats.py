"""Readers for delimited text, whitespace-separated text, JSON lines and Excel, and how a
rejected raw line is kept in quarantine. Each fills `table` with the declared columns only."""

from __future__ import annotations

import csv
import gzip
import hashlib
from pathlib import Path

import duckdb
import pandas as pd

from segments.ingest.sources import ENCODINGS, SourceMapping

# DuckDB's CSV error types that mean "these bytes are not text in the declared encoding".
_ENCODING_ERRORS = {"INVALID UNICODE", "INVALID ENCODING"}
_LINE_DELIM = "\x1f"  # unit separator: no text export uses it, so a line is one field


def reject_raw(mapping: SourceMapping, text: str, *, undeclared: bool = False) -> dict[str, str]:
    """The raw line for ops.quarantine, or only its digest when it may hold personal data
    (the source has PII columns, or the line has columns the mapping does not declare)."""
    if undeclared or mapping.pii_sources():
        return {
            "line_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "note": "raw text withheld: the line may hold PII or undeclared columns",
        }
    return {"line": text}


def line_number_sql(con: duckdb.DuckDBPyConnection, first_line: int, rejects: list[dict]) -> str:
    """SQL for a row's line number given the rejected lines that are not in the table.

    Row k sits after every rejected line whose "gap ordinal" (line - first_line - rejects
    before it) is at most k: an ASOF join on `_reject_gaps` adds that count without an
    UPDATE over the whole table.
    """
    first = int(first_line)
    if not rejects:
        return f"d.rowid + {first}"
    con.execute(
        "create or replace temp table _reject_gaps as select gap, max(n_before) as n_before "
        "from (select line - $first - (row_number() over (order by line) - 1) as gap, "
        "row_number() over (order by line) as n_before "
        "from (select unnest($lines::bigint[]) as line)) group by gap",  # adjacent rejects
        {"first": first, "lines": sorted(r["line"] for r in rejects)},
    )
    return f"d.rowid + {first} + coalesce(g.n_before, 0)"


def _opener(path: Path):
    return gzip.open if path.suffix.lower() == ".gz" else open


def _first_fields(path: Path, mapping: SourceMapping) -> list[str]:
    """The fields of the first line after skip_rows, split like DuckDB will split them."""
    opts = mapping.csv
    encoding = "utf-8-sig" if ENCODINGS[opts.encoding] == "utf-8" else opts.encoding
    with _opener(path)(path, "rt", encoding=encoding, errors="replace", newline="") as handle:
        for _ in range(opts.skip_rows):
            handle.readline()
        line = handle.readline().rstrip("\r\n")
    if not line.strip():
        raise ValueError("the first line is empty; nothing to read")
    if len(opts.delimiter) == 1:
        return next(csv.reader([line], delimiter=opts.delimiter, quotechar=opts.quote or None))
    return [f.strip().strip(opts.quote) if opts.quote else f for f in line.split(opts.delimiter)]


def _names(fields: list[str], header: bool) -> list[str]:
    if header:
        return [name.strip().lstrip("\ufeff") or f"column{i}" for i, name in enumerate(fields)]
    width = len(str(len(fields) - 1))
    return [f"column{i:0{width}d}" for i in range(len(fields))]


def _collect_rejects(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, undeclared: bool
) -> list[dict]:
    rows = con.execute(
        "select line, first(error_type::varchar order by column_idx), "
        "first(error_message order by column_idx), first(csv_line) from _rejects "
        "group by line order by line"
    ).fetchall()
    con.execute("drop table if exists _rejects")
    con.execute("drop table if exists _rejects_scan")
    return [
        {
            "line": int(line),
            "code": "invalid_encoding" if error_type in _ENCODING_ERRORS else "malformed_line",
            "reason": f"{error_type}: {error_message}"[:500],
            "raw": reject_raw(mapping, csv_line or "", undeclared=undeclared),
        }
        for line, error_type, error_message, csv_line in rows
    ]


def read_csv_file(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path, table: str
) -> tuple[list[dict], int]:
    """Delimited text through DuckDB's read_csv, every column as text, declared ones kept.

    Column names come from the first line (read here), so DuckDB's sniffer, which gives up on
    a sample holding a broken quote, is not needed.
    """
    opts = mapping.csv
    names = _names(_first_fields(path, mapping), opts.header)
    keep = [n for n in names if n in mapping.declared_sources]
    select = ", ".join(f'"{n.replace(chr(34), chr(34) * 2)}"' for n in keep) or "null as _none"
    con.execute(
        f"create or replace temp table {table} as select {select} from read_csv($path, "
        "columns = $columns, auto_detect = false, header = $header, skip = $skip, "
        "delim = $delim, quote = $quote, escape = $escape, encoding = $encoding, "
        "store_rejects = true, rejects_table = '_rejects', rejects_scan = '_rejects_scan', "
        "compression = 'auto', null_padding = false, strict_mode = true)",
        {
            "path": str(path),
            "columns": {name: "VARCHAR" for name in names},
            "header": opts.header,
            "skip": opts.skip_rows,
            "delim": opts.delimiter,
            "quote": opts.quote,
            "escape": opts.escape,
            "encoding": ENCODINGS[opts.encoding],
        },
    )
    rejects = _collect_rejects(con, mapping, undeclared=len(keep) < len(names))
    return rejects, opts.skip_rows + (2 if opts.header else 1)


def _read_lines(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path, skip: int
) -> tuple[list[dict], int]:
    """Every line as one text field into `_lines_data` (lines not valid text are rejects)."""
    encoding = ENCODINGS[mapping.csv.encoding] if mapping.format == "csv" else "utf-8"
    con.execute(
        "create or replace temp table _lines_data as select line from read_csv($p, "
        "columns = {'line': 'VARCHAR'}, header = false, skip = $skip, delim = $delim, "
        "quote = '', escape = '', auto_detect = false, compression = 'auto', "
        "encoding = $encoding, store_rejects = true, rejects_table = '_rejects', "
        "rejects_scan = '_rejects_scan', strict_mode = true, null_padding = false)",
        {"p": str(path), "skip": skip, "delim": _LINE_DELIM, "encoding": encoding},
    )
    return _collect_rejects(con, mapping, undeclared=True), skip + 1


def _number_lines(con: duckdb.DuckDBPyConnection, first: int, rejects: list[dict]) -> None:
    """`_lines` (line, _line_number) from `_lines_data`, blank lines left out."""
    number = line_number_sql(con, first, rejects)
    gaps = " asof left join _reject_gaps g on d.rowid >= g.gap" if rejects else ""
    con.execute(
        f"create or replace temp table _lines as select d.line, {number} as _line_number "
        f"from _lines_data d{gaps} where trim(coalesce(d.line, '')) <> ''"
    )
    con.execute("drop table _lines_data")


def read_whitespace(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path, table: str
) -> tuple[list[dict], None]:
    """Columns separated by runs of spaces or tabs (fixed-width exports such as the CDNOW file).

    A line with a different number of fields than the first is quarantined as malformed.
    """
    opts = mapping.csv
    rejects, first = _read_lines(con, mapping, path, opts.skip_rows)
    _number_lines(con, first, rejects)
    split = "regexp_split_to_array(trim(line, ' \t\r'), '[ \t]+')"
    con.execute(f"create or replace temp table _fields as select {split} as f, * from _lines")
    con.execute("drop table _lines")
    row = con.execute("select f, _line_number from _fields order by _line_number limit 1")
    head = row.fetchone()
    if head is None:
        raise ValueError("no lines")
    names = _names(list(head[0]), opts.header)
    if opts.header:
        con.execute("delete from _fields where _line_number = $n", {"n": head[1]})
    bad = con.execute(
        "select _line_number, line, len(f) from _fields where len(f) <> $n order by 1",
        {"n": len(names)},
    ).fetchall()
    undeclared = any(n not in mapping.declared_sources for n in names)
    rejects += [
        {
            "line": int(n),
            "code": "malformed_line",
            "reason": f"expected {len(names)} fields separated by whitespace, found {k}",
            "raw": reject_raw(mapping, text, undeclared=undeclared),
        }
        for n, text, k in bad
    ]
    rejects.sort(key=lambda r: r["line"])
    select = "".join(
        f'f[{i + 1}] as "{n}", ' for i, n in enumerate(names) if n in mapping.declared_sources
    )
    con.execute(
        f"create or replace temp table {table} as select {select}_line_number from _fields "
        "where len(f) = $n",
        {"n": len(names)},
    )
    con.execute("drop table _fields")
    return rejects, None


def read_jsonl(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path: Path, table: str
) -> tuple[list[dict], None]:
    """JSON lines read as text first, so each invalid line is quarantined with its number."""
    rejects, first = _read_lines(con, mapping, path, 0)
    _number_lines(con, first, rejects)
    sources = sorted(mapping.declared_sources)
    # CASE, not AND: DuckDB may evaluate both sides of an AND, and line::json of an invalid
    # line would fail the whole statement
    ok = "case when json_valid(line) then json_type(line) = 'OBJECT' else false end"
    extract = "".join(
        f'json_extract_string(line, $k{i}) as "{c.replace(chr(34), chr(34) * 2)}", '
        for i, c in enumerate(sources)
    )
    keys = {f"k{i}": "$." + '"' + c.replace('"', '\\"') + '"' for i, c in enumerate(sources)}
    con.execute(
        f"create or replace temp table {table} as select {extract}_line_number "
        f"from (select * from _lines where {ok})",
        keys,
    )
    bad = con.execute(f"select _line_number, line from _lines where not ({ok}) order by 1")
    rejects += [
        {
            "line": int(n),
            "code": "malformed_line",
            "reason": "INVALID JSON: the line is not one JSON object",
            "raw": reject_raw(mapping, text, undeclared=True),
        }
        for n, text in bad.fetchall()
    ]
    con.execute("drop table _lines")
    rejects.sort(key=lambda r: r["line"])
    return rejects, None


def read_xlsx(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    path: Path,
    table: str,
    chunk_rows: int = 50_000,
) -> tuple[list[dict], None]:
    """Excel through openpyxl's streaming reader, in chunks, as text; declared columns only."""
    from openpyxl import load_workbook  # only Excel sources pay for the import

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [
            str(h).strip() if h is not None else f"column{i}" for i, h in enumerate(next(rows, ()))
        ]
        if not header:
            raise ValueError("the first sheet is empty")
        keep = [i for i, h in enumerate(header) if h in mapping.declared_sources]
        names = [header[i] for i in keep]
        created = False
        chunk: list[list[str | None]] = []
        line = 1

        def flush() -> None:
            nonlocal created
            frame = pd.DataFrame(chunk, columns=[*names, "_line_number"])
            frame[names] = frame[names].astype("string")
            con.register("_xlsx_chunk", frame)
            verb = (
                f"insert into {table} " if created else f"create or replace temp table {table} as "
            )
            con.execute(verb + "select * from _xlsx_chunk")
            con.unregister("_xlsx_chunk")
            created = True
            chunk.clear()

        for values in rows:
            line += 1
            cells = [_excel_text(values[i]) if i < len(values) else None for i in keep]
            if all(v is None for v in values):
                continue  # openpyxl reports formatted but empty trailing rows
            chunk.append([*cells, line])
            if len(chunk) >= chunk_rows:
                flush()
        if chunk or not created:
            flush()
    finally:
        book.close()
    return [], None


def _excel_text(value: object) -> str | None:
    """Excel cells as the text a CSV export would hold (dates in ISO form, 17850.0 as 17850)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)
