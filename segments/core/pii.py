"""Keyed hashing of personal data: raw PII never reaches the warehouse, lake, logs or reports."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable

from segments.core.errors import ConfigError
from segments.settings import Settings

log = logging.getLogger(__name__)
PSEUDONYM_HEX_CHARS = 24  # 96 bits: collision-free in practice for billions of ids
# A production key must be at least this long: a short one is guessed, and with the key
# every pseudonym can be recomputed from a list of candidate ids (the empty key re-identified
# a customer). 32 bytes is the HMAC-SHA256 block half, what `secrets.token_hex(16)` gives.
MIN_PRODUCTION_KEY_BYTES = 32
_MAKE_KEY = "python -c 'import secrets; print(secrets.token_hex(32))'"
_TRAILING_ZEROS = re.compile(r"\.0+$")


class MissingPiiKeyError(ConfigError):  # exit 2; a ValueError too
    """SEGMENTS_PII_KEY is missing, empty or too short for production."""


def check_key(settings: Settings) -> None:
    """Refuse a key that cannot protect anyone, before any work (every entry point calls it).

    Production needs SEGMENTS_PII_KEY of at least MIN_PRODUCTION_KEY_BYTES bytes; an empty key
    is refused everywhere (set or unset, never blank). The message never shows the key.
    """
    key = settings.pii_key.get_secret_value() if settings.pii_key is not None else None
    if key is not None and not key.strip():
        raise MissingPiiKeyError(
            "SEGMENTS_PII_KEY is set but empty: unset it (demo only: a local key is generated) "
            f"or set a long random secret, e.g. `{_MAKE_KEY}`"
        )
    if settings.environment != "production":
        return
    if key is None:
        raise MissingPiiKeyError(
            "SEGMENTS_PII_KEY is not set: production refuses to hash PII with a local key. "
            f"Set it to a random secret of at least {MIN_PRODUCTION_KEY_BYTES} bytes (the same "
            f"one for every run), e.g. `{_MAKE_KEY}`"
        )
    size = len(key.encode())
    if size < MIN_PRODUCTION_KEY_BYTES:
        raise MissingPiiKeyError(
            f"SEGMENTS_PII_KEY is {size} bytes: production needs at least "
            f"{MIN_PRODUCTION_KEY_BYTES} bytes of random secret, e.g. `{_MAKE_KEY}` (changing "
            "the key renames every customer: reload from the landing files after)"
        )


def load_key(settings: Settings) -> bytes:
    """The HMAC key: from SEGMENTS_PII_KEY, or a generated local key in demo mode only."""
    check_key(settings)
    if settings.pii_key is not None:
        return settings.pii_key.get_secret_value().encode()
    key_file = settings.home / "pii.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
        log.warning(
            "SEGMENTS_PII_KEY not set: generated a demo key at %s. Do not use it for "
            "real customer data; set SEGMENTS_PII_KEY instead.",
            key_file,
        )
    return key_file.read_text().strip().encode()


def pseudonym(value: str, key: bytes) -> str:
    """HMAC-SHA256 of one value, shortened to a readable fixed-width key."""
    digest = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_HEX_CHARS]


def pseudonyms(values: Iterable[str], key: bytes) -> list[str]:
    """Hash many values (callers pass distinct values, so each is hashed once)."""
    return [pseudonym(value, key) for value in values]


def normalise_id(value: object) -> str | None:
    """A source id as ingest hashes it: trimmed, a float's ".0" dropped ("17850.0" is 17850).

    The Python twin of the `id` rule in segments/ingest (hashing.py and casting.py, in SQL);
    tests/privacy check that both give the same pseudonym.
    """
    if value is None:
        return None
    text = _TRAILING_ZEROS.sub("", str(value).strip(" "))  # SQL trim() strips spaces only
    return text or None


def customer_pseudonym(raw_id: object, key: bytes) -> str | None:
    """The customer_id a raw source id becomes at ingest (None for an empty id)."""
    norm = normalise_id(raw_id)
    return None if norm is None else pseudonym(norm, key)
