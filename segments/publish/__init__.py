"""Publishing, scores -> marts -> readers: the candidate table and the marts written in one
transaction (`marts`), the files readers see, written pending and renamed together
(`pending`), serving.duckdb and the lake Parquet (`serving`), their comments (`comments`),
CRM exports (`exports`), the recovery of a killed publish (`recover`) and the publish of
incremental scoring, the customers touched since the last publish (`recent`)."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "build_candidate": "marts",
    "publish_segments": "marts",
    "export_snapshot": "exports",
    "PendingFiles": "pending",
    "TMP_MARK": "pending",
    "tmp_name": "pending",
    "check_publishable": "marts",
    "recover_published": "recover",
    "prepare_and_recover": "recover",
    "RecentPlan": "recent",
    "plan_recent": "recent",
    "build_recent_candidate": "recent",
    "publish_recent": "recent",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
