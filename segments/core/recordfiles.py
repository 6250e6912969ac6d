"""Rewrite a source-like file (delimited text, JSON lines, Excel; gzip or not) without the
records a predicate picks, keeping every other record byte for byte.

Used to erase customers from landing files kept under SEGMENTS_HOME and from CRM export
CSVs. Which column holds the id comes from the header (a column named like a mapped id);
a file with no such column is not a record file here (None), and the caller treats it as
plain text.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

Record = dict[str, str]
IsCustomer = Callable[[Record], bool]

DELIMITED = (".csv", ".tsv", ".txt")
JSON_LINES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class TextLayout:
    """How one source splits its delimited files (a mapping's `csv:` options)."""

    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str = "utf-8"
    header: bool = True
    skip_rows: int = 0  # preamble lines before the header, copied as they are


WHITESPACE = "whitespace"  # a mapping's delimiter for runs of spaces and tabs


def record_kind(path: Path) -> str | None:
    """delimited | jsonl | xlsx from the suffixes (a trailing .gz is looked through)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in DELIMITED:
        return "delimited"
    if last in JSON_LINES:
        return "jsonl"
    if last == ".xlsx" and path.suffix.lower() == ".xlsx":
        return "xlsx"
    return None


@contextmanager
def _open(
    path: Path, mode: str, encoding: str, like: Path | None = None
) -> Iterator[io.TextIOWrapper]:
    """Text of a plain or gzip file, undecodable bytes kept as they are (surrogateescape).

    A gzip written for `like` has no name and no time in its header: the same records give
    the same bytes, whatever the file is called (so a re-landed copy is known by content).
    """
    gz = (like or path).suffix.lower() == ".gz"
    with ExitStack() as stack:
        raw = stack.enter_context(open(path, mode + "b"))
        if gz:
            raw = stack.enter_context(gzip.GzipFile("", mode + "b", fileobj=raw, mtime=0))
        text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
        stack.callback(text.detach)  # the binary handles close themselves, in order
        yield text
        text.flush()


def _header(path: Path, layout: TextLayout, id_columns: frozenset[str]) -> list[str] | None:
    """Column names of the file under this layout, if one of them is an id column."""
    try:
        with _open(path, "r", layout.encoding) as handle:
            for _ in range(layout.skip_rows):
                next(handle, None)
            first = next(_reader(iter(handle), layout), None)
    except (OSError, UnicodeError, LookupError, csv.Error, EOFError):
        return None
    if not first:
        return None
    if layout.header:
        names = [name.strip().lstrip("\ufeff") for name in first]
    else:  # headerless sources name columns column0.. (or zero-padded, as ingest does)
        width = len(str(len(first) - 1))
        names = [f"column{i:0{width}d}" for i in range(len(first))]
        if not id_columns.intersection(names):
            names = [f"column{i}" for i in range(len(first))]
    return names if id_columns.intersection(names) else None


def _split(line: str, delimiter: str, quote: str) -> list[str]:
    """One line split on a multi-character delimiter outside quotes (csv takes one char)."""
    fields, current, quoted, i = [], [], False, 0
    text = line.rstrip("\r\n")
    while i < len(text):
        if text[i] == quote:
            quoted = not quoted
        elif not quoted and text.startswith(delimiter, i):
            fields.append("".join(current).strip(quote))
            current, i = [], i + len(delimiter)
            continue
        current.append(text[i])
        i += 1
    fields.append("".join(current).strip(quote))
    return fields


def _reader(lines: Iterator[str], layout: TextLayout) -> Iterator[list[str]]:
    """Fields of each record, split the way the mapping tells DuckDB to split them."""
    if layout.delimiter == WHITESPACE:
        return (line.split() for line in lines)
    if len(layout.delimiter) > 1:
        return (_split(line, layout.delimiter, layout.quote) for line in lines)
    same = layout.escape == layout.quote
    return csv.reader(
        lines,
        delimiter=layout.delimiter,
        quotechar=layout.quote,
        doublequote=same,
        escapechar=None if same else layout.escape,
    )


def _rewrite_delimited(
    path: Path,
    tmp: Path,
    layout: TextLayout,
    names: list[str],
    is_customer: IsCustomer,
    needles: tuple[str, ...] | None,
) -> int:
    removed = 0
    consumed: list[str] = []

    with (
        _open(path, "r", layout.encoding) as src,
        _open(tmp, "w", layout.encoding, like=path) as dst,
    ):
        for _ in range(layout.skip_rows):  # a preamble holds no records: kept as it is
            dst.write(next(src, ""))

        def lines() -> Iterator[str]:
            for line in src:
                consumed.append(line)
                yield line

        for index, fields in enumerate(_reader(lines(), layout)):
            raw = "".join(consumed)
            consumed.clear()
            if needles is not None and not any(n in raw for n in needles):
                dst.write(raw)  # cannot be the customer's: no field holds a needle
                continue
            if (index > 0 or not layout.header) and is_customer(dict(zip(names, fields))):
                removed += 1
                continue
            dst.write(raw)
        dst.write("".join(consumed))  # a trailing fragment the reader did not return
    return removed


def _rewrite_jsonl(path: Path, tmp: Path, is_customer: IsCustomer, needles) -> int:
    removed = 0
    with _open(path, "r", "utf-8") as src, _open(tmp, "w", "utf-8", like=path) as dst:
        for line in src:
            if needles is not None and not any(n in line for n in needles):
                dst.write(line)
                continue
            try:
                value = json.loads(line)
            except ValueError:
                value = None
            if isinstance(value, dict) and is_customer(
                {str(k): "" if v is None else str(v) for k, v in value.items()}
            ):
                removed += 1
                continue
            dst.write(line)
    return removed


def _rewrite_xlsx(path: Path, tmp: Path, id_columns: frozenset[str], is_customer) -> int | None:
    from openpyxl import load_workbook

    book = load_workbook(path)
    removed, has_ids = 0, False
    for sheet in book.worksheets:
        rows = sheet.iter_rows(values_only=True)
        header = [str(v).strip() if v is not None else "" for v in next(rows, ())]
        if not id_columns.intersection(header):
            continue
        has_ids = True
        picked = [
            number
            for number, values in enumerate(rows, start=2)
            if is_customer(
                {n: "" if v is None else str(v) for n, v in zip(header, values, strict=False)}
            )
        ]
        for number in reversed(picked):
            sheet.delete_rows(number)
        removed += len(picked)
    if not has_ids:
        return None
    if removed:
        book.save(tmp)
    return removed


def rewrite_records(
    path: Path,
    tmp: Path,
    is_customer: IsCustomer,
    *,
    id_columns: frozenset[str],
    layouts: list[TextLayout],
    needles: tuple[str, ...] | None = None,
) -> int | None:
    """Write `tmp` without the picked records; the number removed (0: `tmp` not kept), or
    None when the file holds no id column this knows (not a record file).

    `needles`: strings every picked record's text contains (its raw ids, pseudonyms); other
    records are copied without being split into fields.
    """
    kind = record_kind(path)
    removed: int | None = None
    if kind == "xlsx":
        return _rewrite_xlsx(path, tmp, id_columns, is_customer)
    if kind == "jsonl":
        removed = _rewrite_jsonl(path, tmp, is_customer, needles)
    elif kind == "delimited":
        for layout in dict.fromkeys([*layouts, TextLayout()]):
            names = _header(path, layout, id_columns)
            if names is not None:
                removed = _rewrite_delimited(path, tmp, layout, names, is_customer, needles)
                break
    if not removed:
        tmp.unlink(missing_ok=True)
    return removed
