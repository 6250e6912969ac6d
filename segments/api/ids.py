"""Which stored customer_id a caller means: a pseudonym as stored, or a raw source id.

A raw id is normalised as ingest normalises an `id` column before hashing it (the same DuckDB
expression as segments/ingest/hashing.py: trimmed, a trailing ".0" dropped, so "17850.0" and
"17850" are one customer), then pseudonymised with the same key. The raw id exists only in
this function's frame: it is never logged, stored or returned.
"""

from __future__ import annotations

import re

import duckdb

from segments.core.pii import PSEUDONYM_HEX_CHARS, pseudonym

# ingest's normalisation of an `id` column, evaluated by DuckDB so trim() means the same
_NORMALISE = r"select nullif(regexp_replace(trim($v), '\.0+$', ''), '')"
_PSEUDONYM = re.compile(rf"^[0-9a-f]{{{PSEUDONYM_HEX_CHARS}}}$")


def normalise_id(con: duckdb.DuckDBPyConnection, raw: str) -> str | None:
    """The source id as ingest hashes it; None for an empty id."""
    return con.execute(_NORMALISE, {"v": raw}).fetchone()[0]


def candidate_ids(con: duckdb.DuckDBPyConnection, given: str, key: bytes) -> list[str]:
    """Stored ids the caller may mean: the pseudonym of the raw id, and the id itself when it
    already has the shape of a pseudonym (24 lower-case hex characters)."""
    candidates = []
    raw = normalise_id(con, given)
    if raw is not None:
        candidates.append(pseudonym(raw, key))
    if _PSEUDONYM.match(given):
        candidates.append(given)
    return candidates
