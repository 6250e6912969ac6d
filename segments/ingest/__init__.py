"""Ingestion, raw -> staging: source mappings (`sources`), file readers (`readers`,
`formats`), PII pseudonyms at read (`hashing`), typing and quarantine rules (`casting`), the
SQL steps of one load (`steps`), one file's load (`files`), database sources (`database`),
and what a run or a command loads (`landing`). Every line read ends staged, quarantined with
a reason, or counted as a duplicate."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "LoadResult": "files",
    "SourceMapping": "sources",
    "builtin_mappings": "sources",
    "resolve_mapping": "sources",
    "erasure_layouts": "landing",
    "ingest_landing": "landing",
    "ingest_landing_stage": "landing",
    "ingest_one": "landing",
    "ingest_path": "landing",
    "refresh_staging": "landing",
    "summarise_loads": "landing",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
