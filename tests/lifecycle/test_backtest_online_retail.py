"""Full UCI Online Retail: the chosen model beats the named RFM segments on the backtest."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.online_retail_models import ONLINE_RETAIL, run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason=f"{ONLINE_RETAIL} not present"),
]


def test_kmeans_beats_rfm_on_future_revenue_and_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGMENTS_PII_KEY", "test-key-not-secret")
    out = run(tmp_path / "home", ["kmeans"])
    result, backtest = out["result"], out["result"]["backtest"]
    print(f"\nmodel stage {out['seconds']:.1f}s; {result['selection_reason']}")
    assert 3 <= result["k"] <= 8 and result["promoted"]
    assert backtest["cutoff"] == "2011-09-11"
    assert backtest["beats_baseline"] is True
    assert backtest["model"]["explained_variance"] > backtest["rfm_baseline"]["explained_variance"]
    assert backtest["model"]["retention_spread"] > backtest["rfm_baseline"]["retention_spread"]
    totals = out["backtests"][out["backtests"]["segment"] == "all"]
    assert set(totals["method"]) == {"model", "rfm_baseline"}
    assert totals["customers"].nunique() == 1  # the same customers at the cutoff
