"""Provable privacy: erase customers everywhere under SEGMENTS_HOME (`forget`: ids, the
warehouse copy, the suppression list and the erasure log), every other file by what it is
(`files`), and the scan that proves nothing is left (`scan`). The row-level primitives and
the ingest hook that keeps erased customers out live in segments.core (erasure,
recordfiles, suppression), because ingest calls them too."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "ErasureIncompleteError": "forget",
    "FLOW_NAME": "forget",
    "forget_customers": "forget",
    "read_ids": "forget",
    "scan_home": "scan",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
