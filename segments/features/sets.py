"""Named feature sets (which feature columns the clustering reads) and the feature-layer params.

A deployment picks one feature set by name. `retail` is the default wherever transactions
exist; `demographic` is for a warehouse with customer attributes only (Mall Customers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from segments.settings import Settings

# Parameters of warehouse/features/*.sql besides $as_of -> the setting that supplies each
# (SEGMENTS_CLV_MARGIN: gross margin of net revenue; SEGMENTS_CLV_EXPECTED_LIFETIME_MONTHS:
# months a customer keeps buying at the current rate; both for predicted_clv). The runner
# binds only what a file uses and fails on a missing one, so pass a whole dict from
# `feature_params` or `settings_feature_params`.
FEATURE_PARAM_SETTINGS = {
    "margin": "clv_margin",
    "expected_lifetime_months": "clv_expected_lifetime_months",
}
FEATURE_PARAMS_DEFAULTS: dict[str, Any] = {
    param: Settings.model_fields[field].default for param, field in FEATURE_PARAM_SETTINGS.items()
}


def feature_params(as_of: date, **overrides: Any) -> dict[str, Any]:
    """The full parameter dict for run_layer(con, sql_dir, "features", ...)."""
    unknown = overrides.keys() - FEATURE_PARAMS_DEFAULTS.keys()
    if unknown:
        raise KeyError(
            f"unknown feature parameters {sorted(unknown)}; known: "
            f"{sorted(FEATURE_PARAMS_DEFAULTS)}"
        )
    return {**FEATURE_PARAMS_DEFAULTS, **overrides, "as_of": as_of}


def settings_feature_params(settings: Settings, as_of: date) -> dict[str, Any]:
    """feature_params with the CLV assumptions a deployment set (SEGMENTS_CLV_MARGIN, ...)."""
    return feature_params(
        as_of, **{param: getattr(settings, f) for param, f in FEATURE_PARAM_SETTINGS.items()}
    )


@dataclass(frozen=True)
class FeatureSet:
    """Columns of one feature relation that the clustering reads (keys: as_of, customer_id)."""

    relation: str
    numeric: list[str]
    skewed: list[str] = field(default_factory=list)  # subset of numeric that gets log1p
    categorical: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def columns(self) -> list[str]:
        """Every feature column, in a stable order without duplicates."""
        return list(dict.fromkeys([*self.numeric, *self.skewed, *self.categorical]))


_RETAIL_NUMERIC = [
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
    "purchases_per_month",
    "distinct_products",
    "return_rate",
    "revenue_90d",
    "revenue_trend_qoq",
]
# money and counts: long right tails, compressed with log1p before scaling
_RETAIL_SKEWED = [
    "frequency",
    "monetary",
    "avg_order_value",
    "purchases_per_month",
    "distinct_products",
    "revenue_90d",
]

FEATURE_SETS: dict[str, FeatureSet] = {
    "retail": FeatureSet(
        relation="features.customer_features",
        numeric=_RETAIL_NUMERIC,
        skewed=_RETAIL_SKEWED,
        description="behaviour and value from transactions (never null for a purchaser)",
    ),
    "retail_web": FeatureSet(
        relation="features.customer_features",
        numeric=[
            *_RETAIL_NUMERIC,
            "days_since_last_visit",
            "sessions_90d",
            "cart_to_purchase_90d",
        ],
        skewed=[*_RETAIL_SKEWED, "sessions_90d"],
        description="retail plus web activity; only where web events are loaded",
    ),
    "demographic": FeatureSet(
        relation="features.customer_features_demographic",
        numeric=["age_years", "annual_income", "spending_score"],
        categorical=["gender"],
        description="customer attributes only (the Mall Customers case)",
    ),
    "demographic_income_spend": FeatureSet(
        relation="features.customer_features_demographic",
        numeric=["annual_income", "spending_score"],
        description="income and spending score only: the original Mall Customers brief",
    ),
}
DEFAULT_FEATURE_SET = "retail"
# The names as a type, derived from FEATURE_SETS: flow parameters (the Prefect UI's choices),
# CLI help and the prefect.yaml checks all read it, so a new feature set needs no other edit.
FeatureSetName = Literal[tuple(FEATURE_SETS)]  # type: ignore[valid-type]


def get_feature_set(name: str) -> FeatureSet:
    """Look a feature set up by name, listing the known ones when it is missing."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise KeyError(
            f"unknown feature set {name!r}; choose one of {sorted(FEATURE_SETS)}"
        ) from None
