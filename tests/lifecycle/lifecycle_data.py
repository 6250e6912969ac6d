"""Small synthetic purchase histories the lifecycle tests train on."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

AS_OF = date(2024, 7, 1)
START = date(2023, 1, 1)


def synthetic_lines(seed: int = 0) -> pd.DataFrame:
    """Three behaviours: loyal (every ~2 weeks), occasional big orders, lapsed after a year."""
    rng = np.random.default_rng(seed)
    rows = []
    kinds = [("loyal", 14, 40.0, None), ("big", 60, 300.0, None), ("lapsed", 30, 80.0, 365)]
    for kind, gap, value, stop in kinds:
        for c in range(80):
            day = int(rng.integers(0, 60))
            last = (AS_OF - START).days if stop is None else stop
            n = 0
            while day < last:
                n += 1
                rows.append(
                    {
                        "customer_id": f"{kind}{c:03d}",
                        "invoice_id": f"{kind}{c:03d}-{n}",
                        "invoiced_at": pd.Timestamp(START + timedelta(days=day))
                        + pd.Timedelta("10h"),
                        "quantity": int(rng.integers(1, 4)),
                        "unit_price": float(value * rng.uniform(0.5, 1.5)),
                    }
                )
                day += max(1, int(rng.exponential(gap)))
    frame = pd.DataFrame(rows)
    return frame.assign(
        source="t",
        load_id="l",
        line_number=np.arange(1, len(frame) + 1),
        product_code="P1",
        country="UK",
        is_cancellation=False,
        line_revenue=frame["quantity"] * frame["unit_price"],
    )
