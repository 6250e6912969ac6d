"""Scale-out past one machine: customers split into stable hash buckets
(`customer_bucket`, warehouse/schema/01_macros.sql), the staged lines and the per-customer
aggregates kept in the bucket lake, each bucket's features computed by the same
warehouse/features SQL on a worker (`buckets`), each bucket scored on a worker
(`scoring`), each bucket's per-customer checks run on a worker (`checks`), and the flow
process gathering the buckets into the warehouse, its one writer.
Which process runs what: docs/scale-out.md."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "bucket_sources": "lakefiles",
    "write_buckets": "lakefiles",
    "stage_buckets": "buckets",
    "compute_bucket_features": "buckets",
    "gather_features": "buckets",
    "gather_feature_stage": "buckets",
    "stage_scoring_buckets": "scoring",
    "stage_model_inputs": "scoring",
    "score_bucket": "scoring",
    "gather_scores": "scoring",
    "worker_threads": "lakefiles",
    "stage_check_buckets": "checks",
    "validate_bucket": "checks",
    "gather_checks": "checks",
    "preload_bucket_code": "preload",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
