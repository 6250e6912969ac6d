"""Ingestion, raw -> staging: source mappings (`sources`), file readers (`readers`,
`formats`), PII pseudonyms at read (`hashing`), typing and quarantine rules (`casting`), the
SQL steps of one load (`steps`, `loading`), one file's load (`files`, bookkeeping in `loads`), database sources
(`database`), what a run or a command loads (`landing`), and the dry run of a mapping
(`check`). Mapping files are checked against a JSON Schema (`mapping_schema`) and derived
columns with sqlglot (`expressions`). Every line read ends staged, quarantined with
a reason, or counted as a duplicate."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "LoadResult": "loads",
    "MappingError": "mapping_schema",
    "check_source": "check",
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
