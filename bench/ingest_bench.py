"""Ingest throughput and peak memory on generated transaction lines (CSV.gz or Parquet),
against the floor measured in the same run.

The floor is one DuckDB read of the same file plus a group by customer (what any reader of
the file pays); `x_floor` = ingest seconds / floor seconds. The Parquet file is typed, as a
tool would write it (integer quantities, double prices, timestamps; the demo's deliberately
bad values become NULLs). Each measurement runs in a fresh child process so its peak RSS is
the ingest's own.
Usage: python -m bench.ingest_bench --lines 1000000 --format parquet --workdir /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

# The child: open a fresh file warehouse, ingest one file, report its own peak RSS.
_CHILD = """
import json, resource, sys, time
from pathlib import Path
from segments.core.db import connect_path
from segments.ingest.files import ingest_file
from segments.ingest.sources import builtin_mappings
from segments.core.sql import apply_schema

args = json.loads(sys.argv[1])
con = connect_path(args["db"], memory_limit=args["memory_limit"], threads=args["threads"])
con.execute("set temp_directory = $t", {"t": args["temp"]})
apply_schema(con, Path(args["sql_dir"]))
mapping = builtin_mappings(Path(args["sql_dir"]))["demo_transactions"]
started = time.perf_counter()
result = ingest_file(con, mapping, Path(args["path"]), run_id="bench", pii_key=b"bench-key",
                     lake_dir=Path(args["lake"]))
seconds = time.perf_counter() - started
con.close()
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024, **result.as_dict()}))
"""


def demo_file(lines: int, fmt: str, workdir: Path) -> Path:
    """The generated transactions file for `lines` lines, made once and reused."""
    data = workdir / f"demo-{lines}"
    csv_gz = data / "demo_transactions" / "transactions.csv.gz"
    if not csv_gz.exists():
        from segments.demo.generate import generate_demo

        generate_demo(data, lines=lines, seed=42)
    if fmt == "csv.gz":
        return csv_gz
    if fmt != "parquet":
        raise ValueError(f"format must be csv.gz or parquet, not {fmt!r}")
    parquet = data / "transactions_typed.parquet"
    if not parquet.exists():
        import duckdb

        with duckdb.connect() as con:
            con.execute(
                "copy (select InvoiceNo, StockCode, Description, "
                "try_cast(Quantity as integer) as Quantity, "
                "try_strptime(InvoiceDate, '%Y-%m-%d %H:%M:%S') as InvoiceDate, "
                "try_cast(UnitPrice as double) as UnitPrice, CustomerID, Country "
                "from read_csv($src, all_varchar = true, strict_mode = false, "
                "ignore_errors = true)) to $dst (format parquet)",
                {"src": str(csv_gz), "dst": str(parquet)},
            )
    return parquet


# The floor's child: a fresh in-memory DuckDB, one read of the file, one group by customer.
_FLOOR = """
import json, sys, time
import duckdb
args = json.loads(sys.argv[1])
con = duckdb.connect(config={"memory_limit": args["memory_limit"]})
reader = (
    "read_parquet($p)" if args["format"] == "parquet" else
    "read_csv($p, header = true, ignore_errors = true, columns = {'InvoiceNo': 'varchar', "
    "'StockCode': 'varchar', 'Description': 'varchar', 'Quantity': 'integer', "
    "'InvoiceDate': 'timestamp', 'UnitPrice': 'double', 'CustomerID': 'varchar', "
    "'Country': 'varchar'})"
)
started = time.perf_counter()
con.execute(
    "create temp table floor_result as select CustomerID, max(InvoiceDate), "
    f"count(distinct InvoiceNo), sum(Quantity * UnitPrice) from {reader} group by 1",
    {"p": args["path"]},
)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def _child(code: str, args: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ingest bench failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_ingest(
    lines: int, fmt: str, workdir: Path, *, memory_limit: str = "1GB", threads: int | None = None
) -> dict:
    """Ingest `lines` generated lines in `fmt` into a new warehouse; speed and peak memory."""
    workdir = Path(workdir)
    path = demo_file(lines, fmt, workdir)
    run = workdir / f"run-{lines}-{fmt}-{time.time_ns()}"
    run.mkdir(parents=True)
    args = {
        "db": str(run / "warehouse.duckdb"),
        "temp": str(run / "tmp"),
        "lake": str(run / "lake"),
        "sql_dir": str(PROJECT / "warehouse"),
        "path": str(path),
        "memory_limit": memory_limit,
        "threads": threads,
    }
    floor = _child(_FLOOR, {"path": str(path), "format": fmt, "memory_limit": memory_limit})
    started = time.perf_counter()
    report = _child(_CHILD, args)
    wall = time.perf_counter() - started
    seconds = report["seconds"]
    return {
        "lines": lines,
        "format": fmt,
        "seconds": round(seconds, 2),
        "floor_seconds": round(floor["seconds"], 3),
        "x_floor": round(seconds / floor["seconds"], 1),
        "lines_per_second": round(report["rows_read"] / seconds),
        "peak_rss_mb": round(report["peak_rss_mb"], 1),
        "process_seconds": round(wall, 2),
        "memory_limit": memory_limit,
        "status": report["status"],
        "rows_read": report["rows_read"],
        "rows_staged": report["rows_staged"],
        "rows_quarantined": report["rows_quarantined"],
        "duplicates": report["duplicates"],
    }


def main() -> None:
    """Command line: one or more sizes and formats, one JSON line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--format", nargs="+", default=["csv.gz", "parquet"])
    parser.add_argument("--workdir", type=Path, default=PROJECT / "bench" / "work")
    parser.add_argument("--memory-limit", default="1GB")
    options = parser.parse_args()
    for lines in options.lines:
        for fmt in options.format:
            print(
                json.dumps(
                    bench_ingest(lines, fmt, options.workdir, memory_limit=options.memory_limit)
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
