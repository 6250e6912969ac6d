"""Which stored customer_id a caller means: a pseudonym as stored, or a raw source id.

A raw id becomes the pseudonym ingest gives it (segments/core/pii.py::customer_pseudonym:
trimmed, a trailing ".0" dropped, so "17850.0" and "17850" are one customer, then hashed
with the key). The raw id exists only in this function's frame: it is never logged, stored
or returned.
"""

from __future__ import annotations

import re

from segments.core.pii import PSEUDONYM_HEX_CHARS, customer_pseudonym

_PSEUDONYM = re.compile(rf"^[0-9a-f]{{{PSEUDONYM_HEX_CHARS}}}$")


def candidate_ids(given: str, key: bytes) -> list[str]:
    """Stored ids the caller may mean: the pseudonym of the raw id, and the id itself when it
    already has the shape of a pseudonym (24 lower-case hex characters)."""
    candidates = []
    hashed = customer_pseudonym(given, key)
    if hashed is not None:
        candidates.append(hashed)
    if _PSEUDONYM.match(given):
        candidates.append(given)
    return candidates
