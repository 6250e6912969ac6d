"""Which checks of a suite may run on each customer bucket, and how the buckets' results add
up to the result over the whole relation.

A customer lives in exactly one bucket (segments/scale), so an expectation that judges each
row on its own fails over the table exactly when it fails in some bucket, and its counts are
the sums of the buckets' counts; so does uniqueness of the bucket key (duplicates of a
customer share a bucket). Everything else (row counts, distinct-value counts, shares such as
`mostly`, custom SQL, scope "relation") sees the whole relation and runs once on it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segments.quality.gx import RELATION_SCOPE
from segments.quality.results import COLUMNS, observed_text

BUCKET_KEY = "customer_id"  # what customer_bucket() hashes
# expectations over single rows (GX "map" expectations): a row fails on its own
ROW_EXPECTATIONS = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_value_lengths_to_be_between",
    }
)
# about the relation's columns: every bucket file carries all of them
SCHEMA_EXPECTATIONS = frozenset(
    {"expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list"}
)


def per_bucket(expectation: dict[str, Any]) -> bool:
    """True when checking every bucket is provably the same check as over the whole relation."""
    kind, kwargs = expectation["type"], expectation.get("kwargs") or {}
    if (expectation.get("meta") or {}).get("scope") == RELATION_SCOPE:
        return False
    if kind in SCHEMA_EXPECTATIONS:
        return True
    if kind == "expect_column_values_to_be_unique":
        return kwargs.get("column") == BUCKET_KEY and kwargs.get("mostly", 1) == 1
    # `mostly` is a share of all rows: a bucket under it may be fine overall, and back
    return kind in ROW_EXPECTATIONS and kwargs.get("mostly", 1) == 1


def whole_relation(expectation: dict[str, Any]) -> bool:
    """The rest of a suite: checked once on the gathered relation."""
    return not per_bucket(expectation)


def _total(values: pd.Series) -> Any:
    present = values.dropna()
    return None if present.empty else int(present.sum())


def _combined(rows: pd.DataFrame) -> dict[str, Any]:
    """One expectation's rows, one per bucket (column `bucket`), as one row over them all."""
    first = rows.iloc[0].to_dict()
    unexpected, elements = _total(rows["unexpected_count"]), _total(rows["element_count"])
    percent = None
    if unexpected is not None and elements:
        percent = 100.0 * unexpected / elements
    elif unexpected == 0:
        percent = 0.0
    failed = rows[~rows["success"]]
    if failed.empty:
        observed = (
            observed_text(
                {"unexpected_count": unexpected, "element_count": elements,
                 "unexpected_percent": percent},
                None,
            )
            if unexpected is not None
            else first["observed_value"]
        )  # fmt: skip
    else:  # say which bucket holds the bad rows: that is where to look
        observed = "; ".join(
            f"bucket {int(row.bucket)}: {row.observed_value}" for row in failed.itertuples()
        )
    return {
        **{key: first[key] for key in COLUMNS},
        "success": failed.empty,
        "observed_value": observed,
        "unexpected_count": unexpected,
        "unexpected_percent": percent,
        "element_count": elements,
        "validated_at": rows["validated_at"].max(),
    }


def combine_buckets(frames: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """The per-bucket part of one suite, bucket by bucket, as the rows one relation gives."""
    parts = [frame.assign(bucket=bucket) for bucket, frame in sorted(frames.items())]
    parts = [part for part in parts if not part.empty]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    position = [
        part.reset_index(drop=True).rename_axis("position").reset_index() for part in parts
    ]
    stacked = pd.concat(position, ignore_index=True)
    rows = [_combined(group) for _, group in stacked.groupby("position", sort=True)]
    return _typed(pd.DataFrame(rows, columns=COLUMNS))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(
        {
            "unexpected_count": "Int64",
            "element_count": "Int64",
            "unexpected_percent": "Float64",
            "success": "bool",
        }
    )


def in_suite_order(
    doc: dict[str, Any], buckets: pd.DataFrame, whole: pd.DataFrame
) -> pd.DataFrame:
    """The two parts' rows interleaved back into the order the suite JSON lists them."""
    split = [per_bucket(e) for e in doc["expectations"]]
    if len(buckets) != sum(split) or len(whole) != len(split) - sum(split):
        raise ValueError(
            f"suite {doc['name']!r}: {len(buckets)} bucket and {len(whole)} whole-relation "
            f"results for {len(split)} expectations; the buckets ran another suite version"
        )
    parts = {True: iter(buckets.to_dict("records")), False: iter(whole.to_dict("records"))}
    rows = [next(parts[on_buckets]) for on_buckets in split]
    return _typed(pd.DataFrame(rows, columns=COLUMNS))
