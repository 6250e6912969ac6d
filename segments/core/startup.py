"""What every entry point does first, before any work: refuse a weak key, set file access."""

from __future__ import annotations

from segments.core.access import apply_file_access
from segments.core.pii import check_key
from segments.settings import Settings


def start_process(settings: Settings) -> Settings:
    """Check the PII key (production: 32+ bytes) and set the umask; returns the settings."""
    check_key(settings)
    apply_file_access(settings)
    return settings
