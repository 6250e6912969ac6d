"""Data quality, the gates of a run: expectation suites in expectations/ run with Great
Expectations inside DuckDB (`suites`, `gx`, `custom`, `sql_checks`), the run facts suites
refer to (`params`), results in ops.dq_results (`results`), and the three validation stages
of a run with what they show in the UI (`stage`). A failed critical expectation stops the
run before anything is published."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "CriticalExpectationError": "suites",
    "SuiteOutcome": "suites",
    "describe": "suites",
    "raise_on_critical": "suites",
    "validate_suites": "suites",
    "load_suite": "suites",
    "applies": "suites",
    "suite_outcome": "suites",
    "empty_outcome": "suites",
    "write_results": "results",
    "per_bucket": "buckets",
    "whole_relation": "buckets",
    "combine_buckets": "buckets",
    "in_suite_order": "buckets",
    "preload_gx": "gx",
    "VALIDATION_STAGES": "stage",
    "docs_dir": "stage",
    "results_table": "stage",
    "run_stage_suites": "stage",
    "stage_summary": "stage",
    "suite_params": "stage",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
