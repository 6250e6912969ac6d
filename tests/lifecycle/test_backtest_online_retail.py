"""Full UCI Online Retail (issue 15's protocol): the nightly default against its peers."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.quality import ONLINE_RETAIL, scenario

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason=f"{ONLINE_RETAIL} not present"),
]


def test_the_nightly_default_beats_the_named_rfm_segments_out_of_time(tmp_path: Path) -> None:
    from datetime import date

    args = argparse.Namespace(demo_seed=42, demo_customers=2000)
    result = scenario(args, "online_retail", date(2011, 9, 1), tmp_path)
    rows = {r["segmenter"].split(":")[0].split(" (")[0]: r for r in result["rows"]}
    mine, rfm = result["rows"][0], rows["named RFM segments"]
    print(f"\n{mine}\n{result['reason']}")
    assert result["reason"].startswith("[out_of_time]")
    assert 3 <= mine["k"] <= 8 and mine["smallest_share"] >= 0.02
    assert mine["stability"] >= 0.9
    # on what customers did after as_of, lines the training never read
    assert mine["eta2"] > rfm["eta2"] + 0.01
    assert mine["retention_spread"] > rfm["retention_spread"]
