"""The model stage on full UCI Online Retail: chosen model, candidates, backtest vs peers, time.

(The issue-15 table with peers on the real future is `make bench-quality`: bench/quality.py.)

    .venv/bin/python -m bench.online_retail_models [--algorithms kmeans gmm agglomerative]

Loads the CSV straight into staging (as tests/sql/test_online_retail_features.py does),
builds the features as of 2011-12-10, runs tasks.cluster.train_challenger and prints the
candidate table and the ops.backtests rows (model against the named RFM segments).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path


def _shared_data(relative: str) -> Path:
    """A file of the public datasets folder `shared/` that sits beside the project checkout."""
    if os.environ.get("SEGMENTS_SHARED_DATA"):
        return Path(os.environ["SEGMENTS_SHARED_DATA"]) / relative
    return Path(__file__).resolve().parents[2] / "shared" / "data" / relative


ONLINE_RETAIL = _shared_data("online_retail/online_retail.csv.gz")
AS_OF = date(2011, 12, 10)

# A minimal typed load straight into staging (the real ingest lives in segments/ingest/files.py);
# tests/sql/test_online_retail_features.py uses it too.
LOAD = """
insert into staging.stg_transactions
select
    'online_retail' as source,
    'bench-load' as load_id,
    row_number() over () as line_number,
    InvoiceNo as invoice_id,
    StockCode as product_code,
    Description as description,
    Quantity as quantity,
    UnitPrice as unit_price,
    InvoiceDate as invoiced_at,
    cast(cast(CustomerID as bigint) as varchar) as customer_id,
    Country as country,
    starts_with(InvoiceNo, 'C') as is_cancellation,
    Quantity * UnitPrice as line_revenue
from read_csv($path, header = true, columns = {
    'InvoiceNo': 'varchar', 'StockCode': 'varchar', 'Description': 'varchar',
    'Quantity': 'integer', 'InvoiceDate': 'timestamp', 'UnitPrice': 'double',
    'CustomerID': 'double', 'Country': 'varchar'
})
"""


def run(home: Path, algorithms: list[str], path: Path = ONLINE_RETAIL) -> dict:
    """Build the warehouse in `home`, train, and return the facts the report needs."""
    os.environ["SEGMENTS_HOME"] = str(home)
    from segments.core.db import connect
    from segments.core.sql import apply_schema, run_layer, run_model
    from segments.features import feature_params
    from segments.lifecycle import train_challenger
    from segments.models import TrainConfig
    from segments.settings import Settings

    settings = Settings()
    with connect(settings) as con:
        apply_schema(con, settings.sql_dir)
        run_model(con, settings.sql_dir, "staging", "stg_customers")
        con.execute(LOAD, {"path": str(path)})
        run_layer(con, settings.sql_dir, "features", feature_params(AS_OF))
        started = time.perf_counter()
        result = train_challenger(
            con,
            settings,
            run_id="online-retail",
            as_of=AS_OF,
            feature_set_name="retail",
            config=TrainConfig(algorithms=algorithms, seed=settings.seed),
        )
        seconds = time.perf_counter() - started
        candidates = con.execute(
            "select candidate, round(objective, 4) as objective, "
            "round(backtest_eta2, 3) as eta2, round(backtest_retention_spread, 3) as spread, "
            "round(smallest_share, 3) as smallest, round(stability, 2) as stab, "
            "round(silhouette, 3) as sil, passed_gates as gates, chosen "
            "from ops.model_candidates where model_version = $v order by objective desc",
            {"v": result["model_version"]},
        ).df()
        backtests = con.execute(
            "select method, coalesce(segment_name, 'all') as segment, customers, "
            "round(retention, 3) as retention, round(revenue_per_customer, 1) as rev, "
            "round(avg_order_value, 1) as aov, "
            "round(purchases_per_customer, 2) as purchases, "
            "round(explained_variance, 3) as ev, round(retention_spread, 3) as spread, "
            "round(retention_std, 3) as ret_std "
            "from ops.backtests where model_version = $v "
            "order by method, segment_name is null, customers desc",
            {"v": result["model_version"]},
        ).df()
    return {"result": result, "seconds": seconds, "candidates": candidates, "backtests": backtests}


def markdown(frame) -> str:
    """A markdown table without the optional tabulate dependency."""
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = [
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *body])


def main() -> None:
    """Print the chosen model, the candidate table and the backtest against RFM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--algorithms", nargs="+", default=["kmeans"])
    parser.add_argument("--csv", type=Path, default=ONLINE_RETAIL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="online-retail-") as home:
        out = run(Path(home), args.algorithms, args.csv)
    result = out["result"]
    print(f"model stage (train_challenger): {out['seconds']:.1f}s")
    print(f"chosen: {result['algorithm']} k={result['k']}  {result['selection_reason']}")
    print(json.dumps(result["backtest"], indent=1, default=str))
    print(markdown(out["candidates"]))
    print()
    print(markdown(out["backtests"]))


if __name__ == "__main__":
    main()
