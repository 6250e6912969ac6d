"""How good are these segments: the chosen model against its peers on the last matured window.

Recorded with every trained model (ops.model_registry.backtest and ops.backtests) and shown
in the run report: the chosen recipe as fitted for validation, the named RFM segments and
plain K-means on log RFM (same k), all on the customers at the validation cutoff and what
they did over the following horizon.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segments.lifecycle.backtest import backtest_rows, summarise
from segments.lifecycle.promotion import Decision
from segments.lifecycle.snapshots import BacktestData
from segments.models import match_segments, objective_value, outcome_scores

PEERS = {"rfm_baseline": "named RFM segments", "kmeans_log_rfm": "K-means on log RFM"}


def _scored(
    assignments: pd.DataFrame, data: BacktestData, objective: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-segment outcomes and the summary, plus the selection's own scores."""
    v = data.inputs.validate
    per, summary = summarise(assignments, data.validation_outcomes)
    scores = outcome_scores(assignments["segment"].to_numpy(), v.y, v.retained)
    summary |= {
        "k": scores["k"],
        "retention_eta2": scores["retention_eta2"],
        "objective": objective_value(scores, objective),
        "smallest_share": scores["smallest_share"],
    }
    return per, summary


def backtest_record(
    data: BacktestData | str,
    result: Any,
    catalog: pd.DataFrame,
    decision: Decision,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The registry JSON and the ops.backtests rows (model, then its peers) of a training."""
    if isinstance(data, str) or result.backtest is None:
        reason = data if isinstance(data, str) else "chosen without a backtest"
        return {"status": "skipped", "reason": reason}, None
    choice, v = result.backtest, data.inputs.validate
    ids = np.asarray(result.model.metadata.get("segment_ids") or range(result.model.k))
    names = dict(zip(catalog["segment_id"], catalog["segment_name"], strict=True))
    # the validation fit's segments named after today's segments they share customers with
    today = pd.Series(ids[result.labels], index=pd.Index(result.customer_ids))
    ids_v = v.frame["customer_id"].to_numpy()
    match = match_segments(choice.validation_labels, customer_ids=ids_v, previous=today)
    assigned = pd.DataFrame(
        {"customer_id": ids_v, "segment": match.apply(choice.validation_labels)}
    )
    per, summary = _scored(assigned, data, choice.objective)
    known = {int(s): int(s) for s in per["segment"] if int(s) in names}
    rows = [
        backtest_rows(
            per,
            summary,
            segment_ids=known,
            segment_names={
                int(s): names.get(int(s), "(no counterpart today)") for s in per["segment"]
            },
        ).assign(method="model")
    ]
    record: dict[str, Any] = {
        "status": "ok",
        "mode": choice.mode,
        "cutoff": data.cutoff.isoformat(),
        "train_cutoff": data.train_cutoff.isoformat() if data.train_cutoff else None,
        "horizon_days": data.horizon_days,
        "objective": choice.objective,
        "model": summary,
    }
    for method, labels in choice.peer_labels.items():
        frame = pd.DataFrame({"customer_id": ids_v, "segment": labels})
        per_p, summary_p = _scored(frame, data, choice.objective)
        rows.append(backtest_rows(per_p, summary_p).assign(method=method))
        record[method] = summary_p
    if "rfm_baseline" in record:
        base = record["rfm_baseline"]
        record["beats_baseline"] = bool(
            summary["explained_variance"] > base["explained_variance"]
            and summary["retention_spread"] > base["retention_spread"]
        )
    if decision.champion_scores is not None:
        record["champion"] = decision.champion_scores
    out = pd.concat(rows, ignore_index=True)
    return record, out.assign(cutoff=data.cutoff, horizon_days=data.horizon_days)


def backtest_headline(record: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a backtest record, for the run's details."""
    if record["status"] != "ok":
        return record
    keys = ("objective", "explained_variance", "retention_spread")
    out: dict[str, Any] = {"cutoff": record["cutoff"], "mode": record["mode"]}
    for method in ("model", *PEERS):
        if method in record:
            out[method] = {k: round(float(record[method][k]), 4) for k in keys}
    if "beats_baseline" in record:
        out["beats_baseline"] = record["beats_baseline"]
    return out
