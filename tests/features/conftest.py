"""Fixtures for SQL model tests: a tmp_path DuckDB warehouse fed with hand-written rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from feature_warehouse import Warehouse, new_warehouse


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker here too, so this folder runs on its own with --strict-markers."""
    config.addinivalue_line("markers", "slow: runs on full public datasets")


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    """A fresh warehouse in tmp_path, closed after the test."""
    warehouse = new_warehouse(tmp_path / "warehouse.duckdb")
    try:
        yield warehouse
    finally:
        warehouse.con.close()
