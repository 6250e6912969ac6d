"""The lookups the service answers, over one snapshot of the serving file (tables as
`serving.<table>`). Queries only: no SELECT here defines a table."""

from __future__ import annotations

from typing import Any

import duckdb

from segments.api.reader import ALIAS


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def latest_publish(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The publish this file holds (the newest row of `publishes`)."""
    rows = _rows(
        con,
        f"select as_of, run_id, model_version, customers, changed_customers, published_at "
        f"from {ALIAS}.publishes order by as_of desc limit 1",
        {},
    )
    return rows[0] if rows else None


def customer_segment(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, Any] | None:
    """One customer's current segment, what to do with it, and since when they are in it.

    `ids` holds one or two candidate ids; plain equality filters (not a list) let DuckDB
    push them into the scans of both tables.
    """
    if not ids:
        return None
    rows = _rows(
        con,
        f"""
        with
        customer as (
            select * from {ALIAS}.customer_segments
            where customer_id = $a or customer_id = $b
            order by customer_id
            limit 1
        ),
        stay as (
            select customer_id, valid_from from {ALIAS}.segment_history
            where (customer_id = $a or customer_id = $b) and valid_to is null
        )
        select
            c.customer_id, c.segment_id, c.segment_name, p.description, p.action,
            c.rfm_segment, c.recency_days, c.frequency, c.monetary, c.clv,
            stay.valid_from as segment_since, c.model_version, c.run_id, c.as_of
        from customer c
        left join {ALIAS}.segment_profiles p on p.segment_id = c.segment_id
        left join stay on stay.customer_id = c.customer_id
        """,
        {"a": ids[0], "b": ids[-1]},
    )
    return rows[0] if rows else None


def segment_profiles(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every segment of the published model, sizes and means included."""
    return _rows(con, f"select * from {ALIAS}.segment_profiles order by segment_id", {})


def segment_exists(con: duckdb.DuckDBPyConnection, segment_id: int) -> bool:
    return bool(
        con.execute(
            f"select count(*) from {ALIAS}.segment_profiles where segment_id = $id",
            {"id": segment_id},
        ).fetchone()[0]
    )


def segment_members(
    con: duckdb.DuckDBPyConnection, segment_id: int, *, after: str | None, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """One page of a segment's customers in customer_id order (keyset: ids after `after`),
    and how many the segment holds."""
    total = con.execute(
        f"select count(*) from {ALIAS}.customer_segments where segment_id = $id",
        {"id": segment_id},
    ).fetchone()[0]
    rows = _rows(
        con,
        f"""
        select customer_id, rfm_segment, recency_days, frequency, monetary, clv
        from {ALIAS}.customer_segments
        where segment_id = $id and ($after::varchar is null or customer_id > $after)
        order by customer_id
        limit $limit
        """,
        {"id": segment_id, "after": after, "limit": limit},
    )
    return total, rows
