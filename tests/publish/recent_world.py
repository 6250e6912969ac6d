"""A published demo warehouse and a late file for the score-recent tests (no tests here).

The late lines touch a few customers at the served as_of in every way a load can: new lines,
a late line from months ago, a return, a line dated after as_of (staged, not yet counted), a
big spender who should move segment, a new customer, and a changed customer record.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from segments.core.pii import customer_pseudonym, load_key
from segments.settings import Settings

AS_OF = date(2026, 1, 1)
TRANSACTION_HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
CUSTOMER_HEADER = [
    "customer_id",
    "name",
    "email",
    "gender",
    "birth_date",
    "annual_income",
    "country",
    "signup_date",
]
NEW_CUSTOMER = "C0999999"


def lowest_customer(settings: Settings) -> str:
    """The raw id of the served customer with the oldest last purchase (the likeliest mover)."""
    key = load_key(settings)
    by_pseudonym = {customer_pseudonym(f"C{n:07d}", key): f"C{n:07d}" for n in range(1, 500)}
    with duckdb.connect(str(settings.home / "warehouse.duckdb"), read_only=True) as con:
        ids = [
            c
            for (c,) in con.execute(
                "select customer_id from marts.customer_segments "
                "order by recency_days desc, customer_id"
            ).fetchall()
        ]
    return next(by_pseudonym[c] for c in ids if c in by_pseudonym)


def write_late_files(folder: Path, mover: str) -> dict[str, Path]:
    """One transactions file and one customers file, as a late feed would send them."""
    folder.mkdir(parents=True, exist_ok=True)
    day = datetime(2025, 12, 1, 10, 0)
    rows: list[list[Any]] = [
        ["900001", "40133", "PINK SWEETHEART PLATE", 5, "2025-12-30 10:00:00", 9.99, "C0000005"],
        ["900002", "67959", "ANTIQUE SKULL CLOCK", 2, "2025-06-01 11:00:00", 4.44, "C0000010"],
        ["C900003", "15699", "T-LIGHT HOLDER", -6, "2025-12-20 12:00:00", 2.04, "C0000020"],
        ["900004", "60135", "VINTAGE SPOTTY PLATE", 3, "2026-01-05 09:00:00", 3.51, "C0000030"],
        ["900005", "80248", "BLUE SPACEBOY SIGN", 4, "2025-12-15 15:00:00", 12.97, NEW_CUSTOMER],
    ]
    for n in range(25):  # a month of big orders: the mover's recency and value jump
        when = day + timedelta(days=n, hours=n % 5)
        rows.append(
            [f"9100{n:02d}", "80248", "BLUE SPACEBOY SIGN", 40, f"{when:%Y-%m-%d %H:%M:%S}", 25.0]
            + [mover]
        )
    transactions = folder / "late_transactions.csv"
    with transactions.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TRANSACTION_HEADER)
        writer.writerows([*r, "United Kingdom"] for r in rows)
    customers = folder / "late_customers.csv"
    with customers.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CUSTOMER_HEADER)
        writer.writerow(
            [
                "C0000040",
                "Late Record",
                "late.record@example.com",
                "F",
                "1980-02-02",
                "99000",
                "Germany",
                "2021-01-01",
            ]
        )
    return {"demo_transactions": transactions, "demo_customers": customers}
