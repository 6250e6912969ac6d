"""Deterministic demo data: customers (`people`), products and personas (`catalogue`),
invoices (`sales`), transaction lines with realistic faults (`lines`), web events
(`events`), marketing campaigns with a known effect (`campaigns`), CSV writing helpers (`files`) and the entry point writing them all into a
landing folder (`generate`). Same seed, same bytes."""

from segments.core.lazy import lazy_exports

_EXPORTS = {"generate_demo": "generate", "campaign_plan": "generate"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
