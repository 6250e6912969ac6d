"""Small publishes for the lookup-service tests (no tests here; also used by bench/api_bench.py).

Customers are raw source ids "crm-00000", "crm-00001", ... stored under their pseudonyms, as ingest
would store them, and published through the real publish path (tests/publish/publish_world.py).
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from types import ModuleType

from segments.core.pii import pseudonym
from segments.settings import Settings

KEY = "test-key-not-secret"  # the key publish_world's settings use


def publish_world() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "publish" / "publish_world.py"
    spec = importlib.util.spec_from_file_location("publish_world_for_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def raw_ids(customers: int) -> list[str]:
    return [f"crm-{i:05d}" for i in range(customers)]


def assignments(publish_no: int, customers: int) -> dict[str, int]:
    """Pseudonym -> segment; each publish moves a different slice of customers."""
    return {
        pseudonym(raw, KEY.encode()): 1 + (i + publish_no * (i % 3)) % 4
        for i, raw in enumerate(raw_ids(customers))
    }


def settings_for(home: Path) -> Settings:
    return publish_world().world_settings(home)


def publish(settings: Settings, publish_no: int, customers: int = 200) -> None:
    """Publish number `publish_no` (as_of 2026-01-01 + n days) of `customers` customers."""
    publish_world().publish(
        settings,
        run_id=f"run-{publish_no}",
        as_of=date.fromordinal(date(2026, 1, 1).toordinal() + publish_no),
        assignments=assignments(publish_no, customers),
    )
