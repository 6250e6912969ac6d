"""What BI users read in their tool's catalog: COMMENT ON every served table and column.

The texts live once, in warehouse/columns.yaml; the serving file carries them as comments and
docs/serving-columns.md is generated from them (`python -m segments.publish.comments`).
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import yaml

from segments.settings import PROJECT_DIR

DICTIONARY = "columns.yaml"


@cache
def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def dictionary(sql_dir: Path) -> dict[str, Any]:
    """The column dictionary (warehouse/columns.yaml)."""
    return _load(sql_dir / DICTIONARY)


def describe(
    sql_dir: Path, table: str, column: str | None = None, *, currency: str = "GBP"
) -> str | None:
    """The text of a table (column None) or of one of its columns; None when not written."""
    doc = dictionary(sql_dir)
    entry = (doc.get("tables") or {}).get(table) or {}
    columns = entry.get("columns") or {}
    if column is None:
        text = entry.get("description")
    elif column not in columns:  # every served column is listed under its table
        text = None
    else:
        text = columns[column] or (doc.get("columns") or {}).get(column)
    return " ".join(str(text).split()).replace("{currency}", currency) if text else None


def _literal(text: str) -> str:
    """COMMENT takes no parameters; the text is ours (warehouse/columns.yaml), never input."""
    return "'" + text.replace("'", "''") + "'"


def apply_comments(
    con: duckdb.DuckDBPyConnection, sql_dir: Path, tables: list[str], *, currency: str
) -> list[str]:
    """Comment every table and column of `tables` (main schema); returns what had no text."""
    missing = []
    for table in tables:
        text = describe(sql_dir, table, currency=currency)
        if text:
            con.execute(f"comment on table {table} is {_literal(text)}")
        else:
            missing.append(table)
        for (column,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'main' "
            "and table_name = $t order by column_index",
            {"t": table},
        ).fetchall():
            text = describe(sql_dir, table, column, currency=currency)
            if text:
                con.execute(f'comment on column {table}."{column}" is {_literal(text)}')
            else:
                missing.append(f"{table}.{column}")
    return missing


def markdown(sql_dir: Path, currency: str = "GBP") -> str:
    """docs/serving-columns.md: every served table and column, from the dictionary."""
    doc = dictionary(sql_dir)
    lines = [
        "# Tables and columns of serving.duckdb",
        "",
        (
            "Generated from `warehouse/columns.yaml` (`python -m segments.publish.comments > "
            "docs/serving-columns.md`); the same texts are `COMMENT`s in serving.duckdb, so BI "
            f"tools show them. Money is in `SEGMENTS_CURRENCY` (here {currency}), rounded to "
            "cents."
        ),
    ]
    for table, entry in (doc.get("tables") or {}).items():
        lines += ["", f"## `{table}`", "", describe(sql_dir, table, currency=currency) or "", ""]
        lines += ["| column | meaning |", "|---|---|"]
        for name in entry.get("columns") or {}:
            lines.append(f"| `{name}` | {describe(sql_dir, table, name, currency=currency)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown(PROJECT_DIR / "warehouse"))
