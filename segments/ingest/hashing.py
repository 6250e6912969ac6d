"""PII columns of a load replaced by their pseudonyms before anything is stored or derived."""

from __future__ import annotations

import duckdb
import pandas as pd

from segments.core.pii import pseudonyms
from segments.ingest.sources import SourceMapping


def create_hashed_view(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    source: str,
    view: str,
    key: bytes,
    *,
    materialize: bool = True,
) -> None:
    """View over `source` with every PII column replaced by its pseudonym (a join, no UPDATE),
    and each derived column's expression as `_x_<target>` (over the pseudonyms, so a derived
    value never carries a raw id).

    Distinct values are hashed once in Python; empty values stay empty. A column typed `id`
    anywhere in the mapping is normalised first, so "17850.0" and "17850" get one pseudonym.
    """
    id_sources = {c.source for c in mapping.columns.values() if c.type == "id"}
    replaced, joins = [], []
    for i, src in enumerate(sorted(mapping.pii_sources())):
        quoted = '"' + src.replace('"', '""') + '"'
        text = f"trim(s.{quoted}::varchar)"
        norm = (
            rf"nullif(regexp_replace({text}, '\.0+$', ''), '')"
            if src in id_sources
            else f"nullif({text}, '')"
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
        replaced.append(f"coalesce(p{i}.h, s.{quoted}::varchar) as {quoted}")
        joins.append(f"left join {lookup} p{i} on {norm} = p{i}.v")
    star = f"s.* replace ({', '.join(replaced)})" if replaced else "s.*"
    hashed = f"select {star} from {source} s " + " ".join(joins)
    derived = "".join(f', {sql} as "_x_{t}"' for t, (sql, _) in mapping.expressions.items())
    # a table when the rows read are in memory anyway (text formats): raw, typing and the
    # lake copy all read it and the join runs once; a view over a Parquet file instead, so
    # 10M lines are not held in memory twice (each step reads only the columns it needs)
    kind = "table" if materialize else "view"
    con.execute(f"create or replace temp {kind} {view} as select *{derived} from ({hashed})")
