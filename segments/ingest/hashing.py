"""PII columns of a load replaced by their pseudonyms before anything is stored."""

from __future__ import annotations

import duckdb
import pandas as pd

from segments.core.pii import pseudonyms
from segments.ingest.sources import SourceMapping


def create_hashed_view(
    con: duckdb.DuckDBPyConnection, mapping: SourceMapping, source: str, view: str, key: bytes
) -> None:
    """View over `source` with every PII column replaced by its pseudonym (a join, no UPDATE).

    Distinct values are hashed once in Python; empty values stay empty. An `id` column is
    normalised first, so "17850.0" and "17850" get the same pseudonym.
    """
    replaced, joins = [], []
    for i, column in enumerate(c for c in mapping.columns.values() if c.pii):
        quoted = '"' + column.source.replace('"', '""') + '"'
        norm = (
            rf"nullif(regexp_replace(trim(s.{quoted}), '\.0+$', ''), '')"
            if column.type == "id"
            else f"nullif(trim(s.{quoted}), '')"
        )
        values = [
            r[0]
            for r in con.execute(
                f"select distinct {norm} from {source} s where {norm} is not null"
            ).fetchall()
        ]
        lookup = f"_pii_lookup_{i}"
        con.register(
            f"{lookup}_frame",
            pd.DataFrame({"v": values, "h": pseudonyms(values, key)}, dtype="string"),
        )
        con.execute(f"create or replace temp table {lookup} as select * from {lookup}_frame")
        con.unregister(f"{lookup}_frame")
        if column.source not in {r for r, _ in replaced}:
            replaced.append((column.source, f"coalesce(p{i}.h, s.{quoted}) as {quoted}"))
            joins.append(f"left join {lookup} p{i} on {norm} = p{i}.v")
    star = f"s.* replace ({', '.join(e for _, e in replaced)})" if replaced else "s.*"
    con.execute(
        f"create or replace temp view {view} as select {star} from {source} s " + " ".join(joins)
    )
