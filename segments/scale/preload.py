"""What a fresh Dask worker imports once, ahead of its first bucket."""

from __future__ import annotations


def preload_bucket_code() -> None:
    """Import the bucket stages and what they call (DuckDB, pandas, scikit-learn)."""
    import segments.scale.buckets
    import segments.scale.scoring  # noqa: F401
