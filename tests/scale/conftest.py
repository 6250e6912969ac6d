"""Fixtures of the scale-out tests: a real Dask cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def dask_address() -> Iterator[str]:
    """A real LocalCluster with two single-threaded worker processes, closed after the test."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address
