"""bench/quality.py on small demo data: the issue's table, every peer, measured after as_of."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from bench.quality import goals, markdown, scenario


def test_the_quality_table_has_the_pipeline_and_every_peer(tmp_path: Path) -> None:
    args = argparse.Namespace(demo_seed=5, demo_customers=500)
    result = scenario(args, "demo", date(2025, 10, 3), tmp_path)
    names = [row["segmenter"] for row in result["rows"]]
    assert names[0].startswith("segments (nightly default): ")
    assert any(n.startswith("K-means on the feature set") for n in names)
    assert "named RFM segments (rfm_segment)" in names
    assert sum(n.startswith("K-means log RFM") for n in names) >= 3
    assert names[-1].startswith("ceiling")
    for row in result["rows"]:
        assert 0 <= row["eta2"] <= 1 and 0 <= row["retention_spread"] <= 1
    ceiling = result["rows"][-1]["eta2"]  # fitted on the outcome itself
    assert all(row["eta2"] <= ceiling + 0.05 for row in result["rows"])
    assert "| segmenter | k | eta2 | retention spread |" in markdown(result)
    assert goals(result).startswith("eta2 ")
    assert result["reason"].startswith("[")
