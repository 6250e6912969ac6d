"""Our one GX expectation class; importing this module registers it (GX is imported here).

`unexpected_rows_expectation` in a suite JSON is validated by `UnexpectedRowsCountExpectation`:
GX's own class computes two metrics, the query's rows and their count, and at SUMMARY detail
keeps only the count, so every SQL check ran its query twice. This one asks for the count
alone; segments.quality_sql.sample_rows fetches a few rows when the check fails.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)

SUITE_TYPE = "unexpected_rows_expectation"  # what suites write; GX's name for the check


class UnexpectedRowsCountExpectation(UnexpectedRowsExpectation):
    """GX's unexpected_rows_expectation, evaluated with one query: the count of its rows."""

    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        count = metrics["unexpected_rows_query.row_count"]
        return {"success": count == 0, "result": {"observed_value": count}}


GX_TYPE: str = UnexpectedRowsCountExpectation.expectation_type  # GX names it by the class
