"""Readers for JSON lines and Excel, and how a rejected raw line is kept in quarantine."""

from __future__ import annotations

import hashlib

import duckdb
import pandas as pd

from segments.ingest.sources import SourceMapping


def reject_raw(mapping: SourceMapping, text: str) -> dict[str, str]:
    """The raw line for ops.quarantine, or only its digest when the source has PII columns."""
    if any(c.pii for c in mapping.columns.values()):
        return {
            "line_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "note": "raw text withheld: this source has PII columns",
        }
    return {"line": text}


def read_jsonl(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, path, table: str
) -> tuple[list[dict], None]:
    """Read JSON lines as text first, so an invalid line is quarantined with its number."""
    con.execute(
        "create or replace temp table _json_text as select line "
        "from read_csv($p, columns = {'line': 'VARCHAR'}, header = false, delim = '\x01', "
        "quote = '', escape = '', auto_detect = false, compression = 'auto')",
        {"p": str(path)},
    )
    con.execute(  # rowid is the line's position: blank lines are skipped, not renumbered
        "create or replace temp table _json_lines as select line, rowid + 1 as _line_number "
        "from _json_text where trim(line) <> ''"
    )
    con.execute("drop table _json_text")
    sources = list(dict.fromkeys(c.source for c in mapping.columns.values()))
    extract = ", ".join(
        f'json_extract_string(line, $k{i}) as "{c.replace(chr(34), chr(34) * 2)}"'
        for i, c in enumerate(sources)
    )
    keys = {f"k{i}": "$." + '"' + c.replace('"', '\\"') + '"' for i, c in enumerate(sources)}
    ok = "json_valid(line) and json_type(line::json) = 'OBJECT'"
    con.execute(
        f"create or replace temp table {table} as select {extract}, _line_number "
        f"from _json_lines where {ok}",
        keys,
    )
    bad = con.execute(
        f"select _line_number, line from _json_lines where not ({ok}) order by 1"
    ).fetchall()
    con.execute("drop table _json_lines")
    rejects = [
        {
            "line": int(n),
            "code": "malformed_line",
            "reason": "INVALID JSON: the line is not one JSON object",
            "raw": reject_raw(mapping, text),
        }
        for n, text in bad
    ]
    return rejects, None


def read_xlsx(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    path,
    table: str,
    chunk_rows: int = 50_000,
) -> tuple[list[dict], None]:
    """Excel through openpyxl's streaming reader, in chunks, as text."""
    from openpyxl import load_workbook  # only Excel sources pay for the import

    book = load_workbook(path, read_only=True, data_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = [
        str(h).strip() if h is not None else f"column{i}" for i, h in enumerate(next(rows, ()))
    ]
    if not header:
        raise ValueError("the first sheet is empty")
    created = False
    chunk: list[list[str | None]] = []
    line = 1

    def flush() -> None:
        nonlocal created
        frame = pd.DataFrame(chunk, columns=[*header, "_line_number"])
        frame[header] = frame[header].astype("string")
        con.register("_xlsx_chunk", frame)
        verb = f"insert into {table} " if created else f"create or replace temp table {table} as "
        con.execute(verb + "select * from _xlsx_chunk")
        con.unregister("_xlsx_chunk")
        created = True
        chunk.clear()

    for values in rows:
        line += 1
        cells = [_excel_text(v) for v in values[: len(header)]]
        if all(c is None for c in cells):
            continue  # openpyxl reports formatted but empty trailing rows
        chunk.append([*cells, *([None] * (len(header) - len(cells))), line])
        if len(chunk) >= chunk_rows:
            flush()
    if chunk or not created:
        flush()
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
