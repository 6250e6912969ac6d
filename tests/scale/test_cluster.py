"""The run's Dask cluster: none in one process; otherwise a LocalCluster of the configured
single-threaded workers that import the bucket code at once, closed with the run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from distributed import Client

from flows.scale_out import dask_cluster
from segments.settings import Settings


def test_one_partition_starts_no_cluster(tmp_path: Path) -> None:
    with dask_cluster(Settings(home=tmp_path)) as cluster:
        assert cluster is None


def test_an_address_is_used_as_it_is(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, partitions=4, dask_address="tcp://10.0.0.5:8786")
    with dask_cluster(settings) as cluster:
        assert cluster is not None and cluster.address == "tcp://10.0.0.5:8786"
        assert cluster.threads is None  # a remote worker's DuckDB takes its own cores


def _imported() -> bool:
    return "segments.scale.buckets" in sys.modules and "tasks.scale" in sys.modules


def test_a_local_cluster_is_warmed_and_lives_as_long_as_the_run(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, partitions=4, dask_workers=2, threads=1)
    with dask_cluster(settings) as cluster:
        assert cluster is not None and cluster.threads == 1
        with Client(cluster.address, set_as_default=False) as client:
            client.wait_for_workers(2)
            workers = client.scheduler_info()["workers"].values()
            assert [w["nthreads"] for w in workers] == [1, 1]
            deadline = time.monotonic() + 120
            while not all(client.run(_imported).values()) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert all(client.run(_imported).values())
        address = cluster.address
    with pytest.raises(OSError):
        Client(address, timeout="3s", set_as_default=False)
