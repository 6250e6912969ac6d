"""`make bench-quality`: how well segments predict what customers do next, against peers.

    python -m bench.quality [--dataset online_retail demo] [--as-of D ...] [--demo-seeds 42 7]
                            [--workdir DIR]

Protocol (issue 15): segments are built as of `as_of` from earlier lines only, by the
pipeline as the nightly run trains it (default settings, no hand-set k or features); the
outcome is each customer's net revenue and purchases over [as_of, as_of + horizon), lines
the training never reads. eta2 = between-segment share of the variance of
log1p(max(future net revenue, 0)); retention spread = max - min over segments of the share
who bought again; smallest = the smallest segment's share of customers.

Peers, computed in the same run on the same customers: the named RFM segments
(`rfm_segment`), K-means on standardised log1p(recency, frequency, monetary) with k by
silhouette and with k = 6 and 8 (mean of seeds 0-4), the RFM quintile score map, K-means on
the feature set with k by internal indices (the model stage before the out-of-time
selection), and the ceiling: an 8-leaf regression tree fitted on the outcome itself
(in-sample, not a method). Results go to bench/results/quality.md (+ .json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.online_retail_models import _shared_data

ONLINE_RETAIL = _shared_data("online_retail/online_retail.csv.gz")
RESULTS = Path(__file__).resolve().parent / "results"
HORIZON = {"online_retail": 91, "demo": 90}  # OR: 2011-09-01 .. 2011-12-01, as in the issue
DEMO_END = date(2025, 12, 31)

RF_MAP = [  # the classic R x F quintile segment map (10 names), first match wins
    ("Champions", (5, 5), (4, 5)),
    ("Loyal customers", (3, 4), (4, 5)),
    ("Potential loyalists", (4, 5), (2, 3)),
    ("New customers", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need attention", (3, 3), (3, 3)),
    ("About to sleep", (3, 3), (1, 2)),
    ("Can't lose them", (1, 2), (5, 5)),
    ("At risk", (1, 2), (3, 4)),
    ("Hibernating", (1, 2), (1, 2)),
]


def load(home: Path, dataset: str, demo_seed: int, demo_customers: int) -> Path:
    """A warehouse with the dataset ingested through the real mappings (once per workdir)."""
    from segments.core.db import connect
    from segments.core.warehouse import prepare_warehouse
    from segments.ingest import ingest_landing, ingest_one, refresh_staging
    from segments.settings import Settings

    settings = Settings(home=home, pii_key="bench-quality-key")
    if (home / ".loaded").exists():
        return settings.warehouse_path
    prepare_warehouse(settings)
    with connect(settings) as con:
        if dataset == "online_retail":
            ingest_one(con, settings, "online_retail", ONLINE_RETAIL, "bench-load")
        else:
            from segments.demo import generate_demo

            generate_demo(
                settings.landing_dir, customers=demo_customers, seed=demo_seed, end_date=DEMO_END
            )
            ingest_landing(con, settings, "bench-load")
            refresh_staging(con, settings)
    (home / ".loaded").touch()
    return settings.warehouse_path


def kmeans_log_rfm(frame: Any, k: int, seed: int) -> Any:
    from sklearn.cluster import KMeans

    from segments.models.spaces import RFM_COLUMNS, SpaceTransformer

    X = SpaceTransformer("log").fit_transform(frame[list(RFM_COLUMNS)])
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(X)


def peers(frame: Any, y: Any, retained: Any, seed: int) -> list[dict[str, Any]]:
    """Every peer's scores on the real future (see the module docstring)."""
    import numpy as np
    from sklearn.metrics import silhouette_score
    from sklearn.tree import DecisionTreeRegressor

    from segments.models import outcome_scores
    from segments.models.spaces import RFM_COLUMNS, SpaceTransformer

    rows = [
        {
            "segmenter": "named RFM segments (rfm_segment)",
            **outcome_scores(frame["rfm_segment"].to_numpy(), y, retained),
        }
    ]
    X = SpaceTransformer("log").fit_transform(frame[list(RFM_COLUMNS)])
    best = max(
        (
            (
                silhouette_score(
                    X,
                    lab := kmeans_log_rfm(frame, k, seed),
                    sample_size=min(len(X), 10_000),
                    random_state=seed,
                ),
                k,
                lab,
            )
            for k in range(2, 9)
        ),
        key=lambda t: (t[0], -t[1]),
    )
    rows.append(
        {
            "segmenter": f"K-means log RFM, k by silhouette (k={best[1]})",
            **outcome_scores(best[2], y, retained),
        }
    )
    gated = []
    for k in range(3, 9):
        runs = [outcome_scores(kmeans_log_rfm(frame, k, s), y, retained) for s in range(5)]
        mean = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
        mean["smallest_share"] = min(r["smallest_share"] for r in runs)
        if k in (6, 8):
            rows.append({"segmenter": f"K-means log RFM k={k} (mean of seeds 0-4)", **mean})
        if mean["smallest_share"] >= 0.02:
            gated.append((k, mean))
    if gated:  # the fair plain K-means: held to the pipeline's 2% segment gate
        k, mean = max(gated, key=lambda g: g[1]["eta2"])
        rows.append(
            {
                "segmenter": f"K-means log RFM, best k <= 8 with every segment >= 2% "
                f"(k={k}, in hindsight, mean of seeds 0-4)",
                **mean,
            }
        )
    r, f = frame["r_score"].to_numpy(), frame["f_score"].to_numpy()
    cell = np.full(len(frame), -1)
    for i, (_, (r0, r1), (f0, f1)) in enumerate(RF_MAP):
        cell[(cell < 0) & (r >= r0) & (r <= r1) & (f >= f0) & (f <= f1)] = i
    rows.append({"segmenter": "RFM quintile score map", **outcome_scores(cell, y, retained)})
    cols = [c for c in frame.columns if c in CEILING_COLUMNS and frame[c].notna().all()]
    tree = DecisionTreeRegressor(max_leaf_nodes=8, min_samples_leaf=max(1, int(0.02 * len(frame))))
    leaves = tree.fit(frame[cols].astype(float), y).apply(frame[cols].astype(float))
    rows.append(
        {
            "segmenter": "ceiling: 8-leaf tree fitted on the outcome itself",
            **outcome_scores(leaves, y, retained),
        }
    )
    return rows


CEILING_COLUMNS = {
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
    "purchases_per_month",
    "return_rate",
    "revenue_90d",
    "revenue_365d",
    "revenue_trend_qoq",
    "distinct_products",
    "p_alive",
    "expected_purchases",
    "expected_value",
}


def train_and_score(
    warehouse: Path, home: Path, as_of: date, config: Any, label: str
) -> dict[str, Any]:
    """The pipeline's train stage as the nightly run calls it, on a copy of the warehouse."""
    from segments.core.db import connect
    from segments.core.warehouse import prepare_warehouse
    from segments.features import FEATURE_SETS, build_feature_stage
    from segments.lifecycle import train_challenger
    from segments.lifecycle.train import load_features
    from segments.models import SegmentModel
    from segments.settings import Settings

    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(warehouse, home / "warehouse.duckdb")
    settings = Settings(home=home, pii_key="bench-quality-key")
    prepare_warehouse(settings)
    with connect(settings) as con:
        build_feature_stage(con, settings, as_of)
        started, cpu = time.perf_counter(), time.process_time()
        out = train_challenger(
            con, settings, run_id=label, as_of=as_of, feature_set_name="retail", config=config
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        frame = load_features(con, FEATURE_SETS["retail"])
        path = con.execute(
            "select artifact_path from ops.model_registry where model_version = $v",
            {"v": out["model_version"]},
        ).fetchone()[0]
    labels = SegmentModel.load(path).predict(frame)
    return {"out": out, "frame": frame, "labels": labels, "seconds": seconds, "cpu": cpu}


def scenario(args: argparse.Namespace, dataset: str, as_of: date, work: Path) -> dict[str, Any]:
    """One table: the pipeline's choice and the peers, on one dataset and cutoff."""
    from flows.params import NightlyParams
    from segments.core.db import connect
    from segments.lifecycle.backtest import customer_outcomes
    from segments.lifecycle.snapshots import outcome_arrays
    from segments.models import TrainConfig, outcome_scores
    from segments.settings import Settings

    tag = dataset if dataset == "online_retail" else f"demo{args.demo_seed}"
    warehouse = load(work / tag / "loaded", dataset, args.demo_seed, args.demo_customers)
    horizon = HORIZON[dataset]
    default = NightlyParams().train_config(Settings().seed)  # what `segments run` trains
    run = train_and_score(warehouse, work / tag / f"run-{as_of}", as_of, default, "bench")
    with connect(Settings(home=work / tag / f"run-{as_of}", pii_key="k")) as con:
        end = con.execute(
            "select max(invoiced_at)::date from staging.stg_transactions"
        ).fetchone()[0]
        if as_of + timedelta(days=horizon) > end + timedelta(days=1):
            raise SystemExit(f"horizon after {as_of} passes the data end {end}: not matured")
        outcomes = customer_outcomes(con, Settings().sql_dir, cutoff=as_of, horizon_days=horizon)
    frame = run["frame"]
    y, retained = outcome_arrays(frame, outcomes)
    out, chosen = run["out"], outcome_scores(run["labels"], y, retained)
    rows = [
        {
            "segmenter": f"segments (nightly default): {out['recipe']}",
            **chosen,
            "stability": out["stability"],
        }
    ]
    geometric = TrainConfig(
        recipes=[], backtest_horizon_days=0, seed=default.seed, min_stability=0.6
    )
    old = train_and_score(warehouse, work / tag / f"old-{as_of}", as_of, geometric, "bench-old")
    rows.append(
        {
            "segmenter": f"K-means on the feature set, k by internal indices only "
            f"(k={old['out']['k']})",
            **outcome_scores(old["labels"], y, retained),
            "stability": old["out"]["stability"],
        }
    )
    rows += peers(frame, y, retained, default.seed)
    return {
        "dataset": dataset
        if dataset == "online_retail"
        else f"demo (seed {args.demo_seed}, {args.demo_customers:,} customers)",
        "as_of": str(as_of),
        "horizon_days": horizon,
        "customers": len(frame),
        "bought_again": float(retained.mean()),
        "rows": rows,
        "reason": out["selection_reason"],
        "train_seconds": round(run["seconds"], 1),
        "train_cpu_seconds": round(run["cpu"], 1),
        "train_seconds_before": round(old["seconds"], 1),
    }


def goals(result: dict[str, Any]) -> str:
    """The issue's goal on this table: eta2 above the best plain K-means (k <= 8), spread
    >= 0.65, stability >= 0.9."""
    rows = result["rows"]
    mine = rows[0]
    plain = max(r["eta2"] for r in rows if r["segmenter"].startswith("K-means log RFM"))
    fair = [r["eta2"] for r in rows if "every segment >= 2%" in r["segmenter"]]
    checks = [
        (f"eta2 {mine['eta2']:.3f} > best plain K-means {plain:.3f}", mine["eta2"] > plain),
        (
            f"eta2 > best plain K-means with every segment >= 2% {fair[0] if fair else 0:.3f}",
            bool(fair) and mine["eta2"] > fair[0],
        ),
        (f"k {mine['k']} <= 8", mine["k"] <= 8),
        (
            f"retention spread {mine['retention_spread']:.3f} >= 0.65",
            mine["retention_spread"] >= 0.65,
        ),
        (f"stability {mine['stability']:.2f} >= 0.9", (mine["stability"] or 0) >= 0.9),
    ]
    return "; ".join(f"{text}: {'met' if ok else 'NOT met'}" for text, ok in checks)


def markdown(result: dict[str, Any]) -> str:
    head = (
        f"### {result['dataset']}, as of {result['as_of']}, horizon {result['horizon_days']} "
        f"days: {result['customers']:,} customers, {result['bought_again']:.1%} bought again\n"
    )
    lines = [
        head,
        "| segmenter | k | eta2 | retention spread | smallest segment | stability |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        stab = r.get("stability")
        lines.append(
            f"| {r['segmenter']} | {int(r['k'])} | {r['eta2']:.3f} | {r['retention_spread']:.3f}"
            f" | {r['smallest_share']:.1%} | {'' if stab is None else f'{stab:.2f}'} |"
        )
    lines += [
        "",
        f"Goal: {goals(result)}.",
        "",
        f"Selection: {result['reason']}",
        "",
        (
            f"Train stage {result['train_seconds']} s wall, {result['train_cpu_seconds']} s CPU "
            f"(selection by internal indices only: {result['train_seconds_before']} s wall; "
            "one process)."
        ),
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument(
        "--dataset",
        nargs="+",
        default=["online_retail", "demo"],
        choices=["online_retail", "demo"],
    )
    parser.add_argument(
        "--as-of",
        nargs="+",
        help="cutoffs (default: 2011-09-01 for Online Retail, the last matured one for demo data)",
    )
    parser.add_argument("--demo-seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--demo-customers", type=int, default=2000)
    parser.add_argument("--workdir", type=Path, help="kept between runs (loads are reused)")
    parser.add_argument("--out", type=Path, default=RESULTS / "quality.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    args = parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-quality-"))
    results = []
    for dataset in args.dataset:
        if dataset == "online_retail" and not ONLINE_RETAIL.exists():
            print(f"skipped Online Retail: {ONLINE_RETAIL} not found (SEGMENTS_SHARED_DATA)")
            continue
        default = (
            ["2011-09-01"]
            if dataset == "online_retail"
            else [str(DEMO_END + timedelta(days=1 - HORIZON["demo"]))]
        )
        for seed in [None] if dataset == "online_retail" else args.demo_seeds:
            args.demo_seed = seed
            for day in args.as_of or default:
                result = scenario(args, dataset, date.fromisoformat(day), work)
                print(markdown(result), flush=True)
                results.append(result)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "## Segment quality (bench/quality.py)\n\n" + "\n".join(map(markdown, results))
    )
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
