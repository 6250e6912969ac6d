"""The two reference points every stage is compared with, measured in the same run.

- floor: one bare DuckDB query that reads the lines once and aggregates per customer, on the
  landing CSV.gz (what any reader must pay) and on the staged table (what the feature SQL reads).
- pandas notebook: read_csv, groupby RFM, log1p + StandardScaler, KMeans k=2..10 + silhouette,
  the way a notebook does it.
The nightly benchmark (bench/nightly.py) reads Parquet exports instead: `floor_parquet` and
`pandas_parquet`, run as `python -m bench.baselines NAME FILE...` in a fresh process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.stages import BenchContext, Parts

PANDAS_MODULES = ("numpy", "pandas", "sklearn.cluster", "sklearn.metrics", "sklearn.preprocessing")
K_RANGE = range(2, 11)
# Full silhouette is O(n^2); above this many customers the notebook would not finish in a
# sensible time, so it samples like the pipeline does (and the table says so).
FULL_SILHOUETTE_MAX = 50_000
SILHOUETTE_SAMPLE = 10_000

# Types are given, not sniffed: the demo file holds a few bad values (e.g. quantity "x3") on
# purpose, and a sniffed INTEGER column would stop the read; bad lines are skipped.
FLOOR_CSV_SQL = """
select CustomerID as customer_id, max(InvoiceDate) as last_ts, count(distinct InvoiceNo) as orders,
       sum(Quantity * UnitPrice) as revenue
from read_csv('{path}', header = true, ignore_errors = true, columns = {
    'InvoiceNo': 'varchar', 'StockCode': 'varchar', 'Description': 'varchar',
    'Quantity': 'integer', 'InvoiceDate': 'timestamp', 'UnitPrice': 'double',
    'CustomerID': 'varchar', 'Country': 'varchar'})
group by 1
"""
FLOOR_STAGED_SQL = """
select customer_id, max(invoiced_at) as last_ts, count(distinct invoice_id) as orders,
       sum(quantity * unit_price) as revenue
from wh.staging.stg_transactions
group by 1
"""


def _materialise(con: Any, sql: str) -> int:
    """Build the result as a table so no optimiser can skip an aggregate nobody reads."""
    con.execute(f"create or replace temp table floor_result as {sql}")
    return con.execute("select count(*) from floor_result").fetchone()[0]


def floor_csv(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    import duckdb

    with duckdb.connect() as con:
        # The path is inlined, not bound: a bound Python parameter makes DuckDB import pandas,
        # numpy and pyarrow (~2.5 s, ~70 MB), which the floor must not pay. It is our own path.
        path = str(ctx.transactions_csv).replace("'", "''")
        rows = _materialise(con, FLOOR_CSV_SQL.replace("{path}", path))
    return {"rows": rows, "note": "one read_csv of the landing CSV.gz, group by customer"}


def floor_staged(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"attach '{ctx.warehouse}' as wh (read_only)")
        rows = _materialise(con, FLOOR_STAGED_SQL)
    return {"rows": rows, "note": "same aggregate over staging.stg_transactions"}


def pandas_notebook(ctx: BenchContext, parts: Parts) -> dict[str, Any]:
    import pandas as pd

    from bench.stages import timed

    with timed(parts, "read_csv + coerce types"):
        df = pd.read_csv(
            ctx.transactions_csv, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str}
        )
        # the demo file holds a few bad values on purpose; a notebook coerces and drops them
        df["Quantity"] = pd.to_numeric(df["Quantity"], errors="coerce")
        df["UnitPrice"] = pd.to_numeric(df["UnitPrice"], errors="coerce")
        df["InvoiceDate"] = pd.to_datetime(
            df["InvoiceDate"], format="%Y-%m-%d %H:%M:%S", errors="coerce"
        )
    return notebook(df, parts)


def notebook(df: Any, parts: Parts) -> dict[str, Any]:
    """The notebook after reading: RFM by groupby, log1p + scaling, K-means k=2..10."""
    import numpy as np
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    from bench.stages import timed

    with timed(parts, "groupby RFM"):
        df = df.dropna(subset=["CustomerID", "Quantity", "UnitPrice", "InvoiceDate"])
        df["TotalPrice"] = df["Quantity"] * df["UnitPrice"]
        snapshot = df["InvoiceDate"].max() + pd.Timedelta(days=1)
        rfm = df.groupby("CustomerID").agg(
            {
                "InvoiceDate": lambda s: (snapshot - s.max()).days,
                "InvoiceNo": "nunique",
                "TotalPrice": "sum",
            }
        )
        rfm.columns = ["recency", "frequency", "monetary"]
        rfm = rfm[rfm["monetary"] > 0]  # log1p needs non-negative money
    with timed(parts, "log1p + StandardScaler"):
        X = StandardScaler().fit_transform(np.log1p(rfm))
    sample = None if len(X) <= FULL_SILHOUETTE_MAX else SILHOUETTE_SAMPLE
    scores = {}
    for k in K_RANGE:
        with timed(parts, "KMeans fits (k=2..10, n_init=10)"):
            labels = KMeans(n_clusters=k, n_init=10, random_state=42).fit_predict(X)
        with timed(parts, "silhouette_score" + (f" (sample {sample:,})" if sample else " (full)")):
            scores[k] = silhouette_score(X, labels, sample_size=sample, random_state=42)
    best = max(scores, key=scores.get)
    how = f"sample_size={sample:,}" if sample else "on all rows"
    return {
        "rows": len(rfm),
        "note": f"best k={best} (silhouette {scores[best]:.3f}), silhouette {how}",
    }


FLOOR_PARQUET_SQL = """
select CustomerID as customer_id, max(try_cast(InvoiceDate as timestamp)) as last_ts,
       count(distinct InvoiceNo) as orders,
       sum(try_cast(Quantity as integer) * try_cast(UnitPrice as double)) as revenue
from read_parquet($paths)
group by 1
"""


def floor_parquet(paths: list[str], parts: Parts) -> dict[str, Any]:
    """One DuckDB read of the Parquet exports + group by customer (text columns cast)."""
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"create temp table floor_result as {FLOOR_PARQUET_SQL}", {"paths": paths})
        rows = con.execute("select count(*) from floor_result").fetchone()[0]
    return {"rows": rows, "note": "one read_parquet of the exports, group by customer"}


def pandas_parquet(paths: list[str], parts: Parts) -> dict[str, Any]:
    """The peer notebook on the Parquet exports: pd.read_parquet, then as on the CSV."""
    import pandas as pd

    from bench.stages import timed

    with timed(parts, "read_parquet + coerce types"):
        df = pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)
        df["Quantity"] = pd.to_numeric(df["Quantity"], errors="coerce")
        df["UnitPrice"] = pd.to_numeric(df["UnitPrice"], errors="coerce")
        df["InvoiceDate"] = pd.to_datetime(
            df["InvoiceDate"], format="%Y-%m-%d %H:%M:%S", errors="coerce"
        )
    return notebook(df, parts)


def main(argv: list[str]) -> None:
    """`python -m bench.baselines floor_parquet|pandas_parquet FILE...`: one JSON line."""
    import json
    import resource
    import sys
    import time

    name, *paths = argv
    fn = {"floor_parquet": floor_parquet, "pandas_parquet": pandas_parquet}[name]
    if name == "pandas_parquet":  # imported before the clock, as a notebook has them
        import numpy  # noqa: F401
        import pandas  # noqa: F401
        import sklearn.cluster  # noqa: F401
    parts: Parts = {}
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = fn(paths, parts)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "parts": parts, **result}))
    sys.stdout.flush()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
