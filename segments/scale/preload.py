"""What a fresh Dask worker imports once, ahead of its first bucket."""

from __future__ import annotations


def preload_bucket_code() -> None:
    """Import the bucket stages and what they call (DuckDB, pandas, scikit-learn, GX)."""
    import segments.scale.buckets
    import segments.scale.checks
    import segments.scale.scoring  # noqa: F401
    from segments.quality import preload_gx

    preload_gx()
