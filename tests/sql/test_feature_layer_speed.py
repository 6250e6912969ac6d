"""Speed of the feature layer at 10M lines against the bare DuckDB floor (opt-in: slow to set up).

Run: SEGMENTS_SPEED_TEST=1 .venv/bin/python -m pytest tests/sql/test_feature_layer_speed.py -s
The lines are UCI Online Retail repeated 19 times with distinct customers and invoices
(10.3M lines, 83k customers), so the distributions are real ones.
"""

from __future__ import annotations

import os
import time
from datetime import date

import pytest
from feature_warehouse import Warehouse, new_warehouse

from bench.online_retail_models import ONLINE_RETAIL

AS_OF = date(2011, 12, 10)
COPIES = 19
ROUNDS = 3

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("SEGMENTS_SPEED_TEST"), reason="set SEGMENTS_SPEED_TEST=1"
    ),
    pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason=f"{ONLINE_RETAIL} not present"),
]

# The floor: one scan of the lines aggregating per customer everything the features need from
# line grain (last purchase, distinct invoices, distinct products, net revenue), into a table.
FLOOR = """
create or replace table main.floor as
select
    customer_id,
    max(invoiced_at) as last_invoiced_at,
    count(distinct invoice_id) as invoices,
    count(distinct product_code) as products,
    sum(line_revenue_gbp) as revenue_gbp
from staging.stg_transactions
where invoiced_at < $as_of and customer_id is not null
group by customer_id
"""
# The same without distinct products: the minimal RFM scan, reported for reference.
FLOOR_RFM = FLOOR.replace("count(distinct product_code) as products,", "")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    wh = new_warehouse(tmp_path_factory.mktemp("speed") / "warehouse.duckdb")
    wh.con.execute(
        "create temp table source as select * from read_csv($path, header = true, columns = {"
        "'InvoiceNo': 'varchar', 'StockCode': 'varchar', 'Description': 'varchar', "
        "'Quantity': 'integer', 'InvoiceDate': 'timestamp', 'UnitPrice': 'double', "
        "'CustomerID': 'double', 'Country': 'varchar'})",
        {"path": str(ONLINE_RETAIL)},
    )
    wh.con.execute(
        """
        insert into staging.stg_transactions
        select 'speed', 'copy-' || k, k * 1000000 + source.rowid, k || '-' || InvoiceNo,
            StockCode, Description, Quantity, UnitPrice, InvoiceDate,
            k || '-' || cast(cast(CustomerID as bigint) as varchar), Country,
            starts_with(InvoiceNo, 'C'), Quantity * UnitPrice
        from source, range($copies) as copies(k)
        """,
        {"copies": COPIES},
    )
    wh.con.execute("checkpoint")
    return wh


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def test_features_within_twice_the_floor(big: Warehouse) -> None:
    lines = big.con.execute("select count(*) from staging.stg_transactions").fetchone()[0]
    assert lines >= 10_000_000
    floor, floor_rfm, layer = [], [], []
    for _ in range(ROUNDS):  # interleaved, best of three: the machine may be shared
        floor.append(timed(lambda: big.con.execute(FLOOR, {"as_of": AS_OF})))
        floor_rfm.append(timed(lambda: big.con.execute(FLOOR_RFM, {"as_of": AS_OF})))
        layer.append(timed(lambda: big.build(AS_OF)))
    print(
        f"\n{lines:,} lines: features {min(layer):.2f}s, floor {min(floor):.2f}s "
        f"(ratio {min(layer) / min(floor):.2f}), RFM-only floor {min(floor_rfm):.2f}s "
        f"(ratio {min(layer) / min(floor_rfm):.2f})"
    )
    assert min(layer) <= 2 * min(floor)
