"""A throwaway DuckDB warehouse fed with hand-written staging rows, for SQL model tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from segments.core.sql import apply_schema, run_layer, run_model, temp_models
from segments.features.sets import feature_params

SQL_DIR = Path(__file__).resolve().parents[2] / "warehouse"


class Warehouse:
    """A throwaway warehouse: insert staging rows, build the feature layer, read results."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._line = 0

    def _next_line(self) -> int:
        self._line += 1
        return self._line

    def lines(self, rows: Iterable[Mapping[str, Any]], load: str = "load-1") -> None:
        """Insert transaction lines of one load; keys: customer, invoice, at, qty, price,
        product, country."""
        records = []
        for row in rows:
            invoice = str(row["invoice"])
            quantity = int(row.get("qty", 1))
            price = float(row.get("price", 10.0))
            records.append(
                {
                    "source": "test",
                    "load_id": load,
                    "line_number": self._next_line(),
                    "invoice_id": invoice,
                    "product_code": row.get("product", "P1"),
                    "description": None,
                    "quantity": quantity,
                    "unit_price": price,
                    "invoiced_at": _ts(row["at"]),
                    "customer_id": row.get("customer"),
                    "country": row.get("country", "United Kingdom"),
                    "is_cancellation": invoice.startswith("C"),
                    "line_revenue": quantity * price,
                }
            )
        if records:
            frame = pd.DataFrame.from_records(records)
            self.con.register("new_lines", frame)
            self.con.execute(
                "insert into staging.stg_transactions by name "
                "select * replace (cast(description as varchar) as description, "
                "cast(customer_id as varchar) as customer_id) from new_lines"
            )
            self.con.unregister("new_lines")

    def customers(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert customer versions (latest wins) and rebuild staging.stg_customers."""
        for row in rows:
            self.con.execute(
                "insert into staging.customer_versions values "
                "('test', 'load-1', $line, $customer, null, null, $gender, $birth_date, $age, "
                "$income, $score, $country, $signup, $loaded_at)",
                {
                    "line": self._next_line(),
                    "customer": row["customer"],
                    "gender": row.get("gender"),
                    "birth_date": row.get("birth_date"),
                    "age": row.get("age"),
                    "income": row.get("income"),
                    "score": row.get("score"),
                    "country": row.get("country"),
                    "signup": row.get("signup"),
                    "loaded_at": row.get("loaded_at", datetime(2020, 1, 1)),
                },
            )
        run_model(self.con, SQL_DIR, "staging", "stg_customers")

    def events(self, rows: Iterable[Mapping[str, Any]], load: str = "load-1") -> None:
        """Insert web events of one load; keys: customer, session, type, at."""
        for row in rows:
            self.con.execute(
                "insert into staging.stg_events values "
                "('test', $load, $line, $customer, $session, $type, $at, 'web')",
                {
                    "load": load,
                    "line": self._next_line(),
                    "customer": row["customer"],
                    "session": row.get("session"),
                    "type": row["type"],
                    "at": _ts(row["at"]),
                },
            )

    def build(self, as_of: date, *, full_refresh: bool = False, **params: Any) -> dict[str, int]:
        """Run the whole feature layer as of a date; returns row counts by relation.

        The aggregates take in what changed in staging since the last build (or are rebuilt
        from all of it with `full_refresh`)."""
        return run_layer(
            self.con,
            SQL_DIR,
            "features",
            feature_params(as_of, **params),
            full_refresh=full_refresh,
        )

    def frame(self, relation: str) -> pd.DataFrame:
        """A relation as a frame indexed by customer_id."""
        return (
            self.con.execute(f"select * from {relation} order by customer_id")
            .df()
            .set_index("customer_id")
        )

    def features(self, as_of: date, **params: Any) -> pd.DataFrame:
        """Build and return features.customer_features."""
        self.build(as_of, **params)
        return self.frame("features.customer_features")


def relation_of(name: str) -> str:
    """Where a feature model's rows are: a temp model's in this connection's temp catalog."""
    return f"temp.main.{name}" if name in temp_models(SQL_DIR, "features") else f"features.{name}"


def _ts(value: str | datetime | date) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


def new_warehouse(path: Path | str = ":memory:") -> Warehouse:
    """An empty warehouse with the schema, seeds and an empty stg_customers."""
    con = duckdb.connect(str(path))
    con.execute("set TimeZone = 'UTC'")
    apply_schema(con, SQL_DIR)
    run_model(con, SQL_DIR, "staging", "stg_customers")
    return Warehouse(con)
