"""Money: which columns hold an amount of money. Names carry no currency (SEGMENTS_CURRENCY
says which one it is); this set is the one place that knows which columns are money, for
rounding in the serving file, log scales in charts and units in descriptions."""

from __future__ import annotations

MONEY_COLUMNS = frozenset(
    {
        "unit_price",
        "line_revenue",
        "annual_income",
        "monetary",
        "avg_order_value",
        "purchase_value",
        "gross_purchase_value",
        "returned_value",
        "returns_value",
        "net_revenue",
        "revenue",
        "revenue_30d",
        "revenue_90d",
        "revenue_prior_90d",
        "revenue_365d",
        "revenue_per_customer",
        "historical_clv",
        "predicted_clv",
        "clv",
        "lt_monetary",
        "expected_avg_value",
        "mean_monetary",
        "mean_clv",
        "total_clv",
        # campaign results (marts.campaign_results): revenue per recipient and its uplift
        "treatment_revenue_per_customer",
        "control_revenue_per_customer",
        "revenue_uplift",
        "revenue_uplift_low",
        "revenue_uplift_high",
    }
)


def is_money(column: str) -> bool:
    """Whether a column holds an amount of money (in the warehouse's one currency)."""
    return column in MONEY_COLUMNS
