"""Keyed hashing of personal data: raw PII never reaches the warehouse, lake, logs or reports."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable

from segments.settings import Settings

log = logging.getLogger(__name__)
PSEUDONYM_HEX_CHARS = 24  # 96 bits: collision-free in practice for billions of ids


class MissingPiiKeyError(RuntimeError):
    """Production runs must be given SEGMENTS_PII_KEY."""


def load_key(settings: Settings) -> bytes:
    """The HMAC key: from SEGMENTS_PII_KEY, or a generated local key in demo mode only."""
    if settings.pii_key is not None:
        return settings.pii_key.get_secret_value().encode()
    if settings.environment == "production":
        raise MissingPiiKeyError(
            "SEGMENTS_PII_KEY is not set: production runs refuse to hash PII with a local key. "
            "Set SEGMENTS_PII_KEY to a long random secret (the same one for every run)."
        )
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
