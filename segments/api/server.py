"""`segments api`: the lookup service under uvicorn, with a log that never holds a raw id.

uvicorn's access log prints each request's path, and a raw customer id may be in the path;
a filter replaces everything after /customers/ before any handler writes the line.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from segments.settings import Settings

DEFAULT_HOST = "127.0.0.1"  # local only unless asked: the service answers customer lookups
DEFAULT_PORT = 8000
_CUSTOMER_PATH = re.compile(r"/customers/.*")
REDACTED = "/customers/<id>"


class ApiSettingsError(ValueError):
    """The service refuses to start with these settings."""


class RedactCustomerIds(logging.Filter):
    """Access-log lines show /customers/<id> whatever id was asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _CUSTOMER_PATH.sub(REDACTED, a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _CUSTOMER_PATH.sub(REDACTED, record.msg)
        return True


def check_settings(settings: Settings) -> None:
    """Production serves only behind an API key."""
    if settings.environment == "production" and settings.api_key is None:
        raise ApiSettingsError(
            "SEGMENTS_API_KEY is not set: in production the lookup service refuses to start "
            "without one. Set SEGMENTS_API_KEY to a long random secret; clients send it as "
            "the X-API-Key header."
        )


def log_config() -> dict[str, Any]:
    """uvicorn's own logging setup with the redacting filter on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_ids": {"()": RedactCustomerIds}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_ids"]
    return config


def serve_api(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Block, serving the lookup service until Ctrl-C or SIGTERM."""
    import uvicorn

    from segments.api.app import create_app

    check_settings(settings)
    app = create_app(settings)
    try:
        uvicorn.run(app, host=host, port=port, log_config=log_config(), workers=1)
    finally:
        app.state.reader.close()
