"""Demo campaigns: byte-stable, sent to signed-up customers, a control group in all but one
campaign, the bad rows counted, and responses only after the send."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from datetime import date
from pathlib import Path

from segments.demo import campaign_plan, generate_demo

FILE = Path("demo_campaigns/campaigns.csv")


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    digests = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_demo(tmp_path / name, customers=300, seed=seed)
        digests.append(hashlib.sha256((tmp_path / name / FILE).read_bytes()).hexdigest())
    assert digests[0] == digests[1] != digests[2]


def test_campaign_file_matches_the_plan(tmp_path: Path) -> None:
    counts = generate_demo(tmp_path, customers=500, seed=3, end_date=date(2025, 6, 30))
    with (tmp_path / FILE).open() as handle:
        rows = list(csv.DictReader(handle))
    plan = campaign_plan(customers=500, seed=3, end_date=date(2025, 6, 30))
    assert counts["campaign_rows"] == len(rows) == len(plan.campaign) + 2
    assert counts["bad_campaign_rows"] == 2
    groups = Counter((r["campaign_id"], r["group"]) for r in rows)
    assert groups[("CMP003", "control")] == 0 and groups[("CMP001", "control")] > 0
    assert sum(r["group"] == "holdout" for r in rows) == 1
    early = [r for r in rows if r["converted_ts"] and r["converted_ts"] < r["sent_ts"]]
    assert len(early) == 1  # the one deliberately bad row
    control = [r for r in rows if r["group"] == "control"]
    assert all(not r["opened_ts"] and not r["clicked_ts"] for r in control)
    assert all(r["revenue"] for r in rows if r["converted_ts"] and r not in early)
    assert max(r["sent_ts"] for r in rows) < "2025-06-30"
    assert (plan.p_treatment >= plan.p_control).all()
