"""The lookup service, read-only over serving.duckdb: the app and its routes (`app`), the
serving file reopened after each publish (`reader`), raw or pseudonymous ids (`ids`), the
queries (`queries`), the response models (`schemas`) and `segments api` under uvicorn
(`server`). It never opens the warehouse, so it never blocks the pipeline's writer."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "ApiSettingsError": "server",
    "DEFAULT_HOST": "server",
    "DEFAULT_PORT": "server",
    "NotPublishedError": "reader",
    "RedactCustomerIds": "server",
    "ServingReader": "reader",
    "check_settings": "server",
    "create_app": "app",
    "serve_api": "server",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
