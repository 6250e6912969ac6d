"""Suite parameters: the run's dynamic values, computed once in Python, used by GX and SQL.

A suite's JSON refers to them as `{"$PARAMETER": "name"}` in expectation kwargs and as
`$name` in SQL text (batch_filter, unexpected_rows_query). See docs/data-quality.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any

import duckdb

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REQUIRED = ("as_of", "date_floor")
# Loads with fewer earlier loads than this have no band yet: a new source is not an anomaly.
_MIN_HISTORY = 3


def _as_date(value: Any, key: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise TypeError(f"params[{key!r}] must be a date or ISO string, got {type(value).__name__}")


def _as_utc(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time())
    # DuckDB stores naive UTC timestamps; compare like with like.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def load_band(
    con: duckdb.DuckDBPyConnection, entity: str, *, window: int, low: float, high: float
) -> dict[str, Any]:
    """Latest load of an entity and the line-count band its recent predecessors allow."""
    rows = con.execute(
        """
        select load_id, coalesce(rows_staged, 0)
        from ops.loads
        where entity = $entity and status = 'loaded'
        order by started_at desc, load_id desc
        limit $limit
        """,
        {"entity": entity, "limit": window + 1},
    ).fetchall()
    if not rows:
        return {"latest_load_id": None, "load_rows_min": 0, "load_rows_max": None}
    previous = [count for _, count in rows[1:]]
    if len(previous) < _MIN_HISTORY:
        return {"latest_load_id": rows[0][0], "load_rows_min": 1, "load_rows_max": None}
    typical = median(previous)
    return {
        "latest_load_id": rows[0][0],
        "load_rows_min": int(typical * low),
        "load_rows_max": int(typical * high) + 1,
    }


def new_loads(
    con: duckdb.DuckDBPyConnection, suite: str, relation: str
) -> tuple[list[str | None], list[int]]:
    """Loads of the relation this suite has not passed yet, or that grew since: (ids, rows).

    One count per load (a narrow scan of load_id). `relation` is the suite's meta.relation,
    checked to be `schema.table` when the suite was read.
    """
    rows = con.execute(
        f"with current as (select load_id, count(*) as n from {relation} group by load_id), "
        "passed as (select load_id, max(rows) as n from ops.validated_loads "
        "where suite = $suite group by load_id) "
        "select current.load_id, current.n from current "
        "left join passed on current.load_id = passed.load_id "
        "where passed.n is null or current.n > passed.n order by current.load_id",
        {"suite": suite},
    ).fetchall()
    return [load_id for load_id, _ in rows], [n for _, n in rows]


def suite_parameters(
    con: duckdb.DuckDBPyConnection,
    suite_meta: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    suite: str | None = None,
) -> dict[str, Any]:
    """Merge suite defaults, flow params and derived values into one parameter dict.

    Flow params win over the suite's `meta.parameters` defaults, so a deployment can tune a
    threshold without editing JSON, and the JSON can tune it without code.
    """
    missing = [key for key in REQUIRED if params.get(key) is None]
    if missing:
        raise KeyError(f"validation needs params {missing}; the flow passes as_of and date_floor")
    merged: dict[str, Any] = {**suite_meta.get("parameters", {}), **params}
    as_of = _as_date(merged["as_of"], "as_of")
    run_at = _as_utc(merged.get("run_at") or datetime.now(UTC))
    date_floor = _as_date(merged["date_floor"], "date_floor")
    merged.update(
        as_of=as_of,
        date_floor=date_floor,
        run_at=run_at,
        run_date=run_at.date(),
        max_recency_days=(as_of - date_floor).days,
    )
    if "freshness_days" in merged:
        merged["fresh_since"] = as_of - timedelta(days=int(merged["freshness_days"]))
    entity = suite_meta.get("load_entity")
    if entity:
        merged.update(
            load_band(
                con,
                entity,
                window=int(merged.get("load_window", 7)),
                low=float(merged.get("load_band_low", 0.5)),
                high=float(merged.get("load_band_high", 2.0)),
            )
        )
    if suite_meta.get("incremental"):
        if suite is None:
            raise ValueError("an incremental suite needs its name to know what it validated")
        merged["new_load_ids"], merged["new_load_rows"] = new_loads(
            con, suite, suite_meta["relation"]
        )
    bad = [name for name in merged if not _NAME.match(name)]
    if bad:
        raise ValueError(f"parameter names must be identifiers: {bad}")
    return merged


def gx_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as GX wants them: every date or time as an ISO timestamp string.

    GX parses ISO strings back into date or datetime and compares min with max in Python;
    a date floor next to a datetime ceiling raises, so all temporal values are timestamps.
    """
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, datetime.min.time())
        out[name] = value.isoformat(sep=" ") if isinstance(value, datetime) else value
    return out
