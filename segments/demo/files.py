"""Byte-stable CSV output for the demo generator, with a few hand-made rows slipped in."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# Level 1: the 10M-line demo is CPU-bound on compression; landing files are transient.
GZIP_LEVEL = 1
# quoting "none" makes Arrow refuse a value with a comma or quote instead of quoting it, so
# every line stays a plain comma join and the demo files parse with naive readers too.
_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=65_536)

Mutation = Callable[[list[str]], list[str]]


class CsvSink:
    """Stream Arrow tables into one CSV file (gzip when the name ends in .gz), counting rows."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = path.open("wb")
        self._out: io.RawIOBase | gzip.GzipFile = self._raw
        if path.suffix == ".gz":
            # mtime=0 and an empty name keep the gzip header identical run to run
            self._out = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._raw, compresslevel=GZIP_LEVEL, mtime=0
            )
        self._write_line(list(header))
        self.rows = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()

    def write(self, table: pa.Table, after: Sequence[tuple[int, Mutation]] = ()) -> None:
        """Write `table`; after row i (0-based within table) add mutate(copy of row i)."""
        start = 0
        for row, mutate in sorted(after, key=lambda item: item[0]):
            self._write_table(table.slice(start, row + 1 - start))
            self._write_line(mutate(self.fields(table, row)))
            self.rows += 1
            start = row + 1
        self._write_table(table.slice(start))

    def append(self, fields: Sequence[str]) -> None:
        """Write one hand-made line."""
        self._write_line(list(fields))
        self.rows += 1

    @staticmethod
    def fields(table: pa.Table, row: int) -> list[str]:
        """Row `row` of `table` exactly as the CSV writer renders it."""
        buffer = io.BytesIO()
        pacsv.write_csv(table.slice(row, 1), buffer, _OPTIONS)
        return buffer.getvalue().decode().rstrip("\n").split(",")

    def _write_table(self, table: pa.Table) -> None:
        if table.num_rows:
            pacsv.write_csv(table, self._out, _OPTIONS)
            self.rows += table.num_rows

    def _write_line(self, fields: list[str]) -> None:
        self._out.write((",".join(fields) + "\n").encode())


def code_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Ids like C0000042 from integers, vectorised (Arrow string kernels, no Python loop)."""
    digits = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def take(values: pa.Array, indices: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """values[indices], null where `missing` is true (blank in the CSV)."""
    index = pa.array(indices, pa.int64(), mask=missing)
    return values.take(index)


def timestamps(seconds: np.ndarray) -> pa.Array:
    """Epoch seconds as an Arrow timestamp; the CSV writer renders YYYY-MM-DD HH:MM:SS."""
    return pa.array(seconds.astype(np.int64), pa.timestamp("s"))


def dates(days: np.ndarray) -> pa.Array:
    """Epoch days as YYYY-MM-DD strings."""
    return pa.array(days.astype(np.int32), pa.date32()).cast(pa.string())


def replaced(fields: list[str], index: int, value: str) -> list[str]:
    """A copy of `fields` with one value swapped: the building block of the bad rows."""
    return fields[:index] + [value] + fields[index + 1 :]


def chunk_bounds(first_row: np.ndarray, rows_per_chunk: int) -> list[int]:
    """Group indices whose rows start at first_row into chunks of about rows_per_chunk rows."""
    items = len(first_row) - 1
    cuts = np.searchsorted(
        first_row[:-1], np.arange(rows_per_chunk, first_row[-1], rows_per_chunk)
    )
    return np.unique(np.concatenate([[0], cuts, [items]])).tolist()
