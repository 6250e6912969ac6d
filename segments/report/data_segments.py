"""Report data about the segments: features joined to scores, profiles, products, RFM, migration."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from segments.features import FeatureSet
from segments.models import feature_stats
from segments.report.sql_util import columns_of, frame, table_exists

RFM_COLUMNS = ("r_score", "fm_score", "rfm_segment")
VALUE_PROFILE = ("p_alive", "clv")  # per segment in the profiles: lifetime value and P(alive)


def scored_features(
    con: duckdb.DuckDBPyConnection, run_id: str, feature_set: FeatureSet, as_of: object
) -> pd.DataFrame:
    """Each scored customer's features at the run's as_of, with segment id and name."""
    available = columns_of(con, feature_set.relation)
    if not available:
        return pd.DataFrame()
    wanted = [
        c
        for c in dict.fromkeys([*feature_set.columns, "monetary", *RFM_COLUMNS])
        if c in available
    ]
    cols = ", ".join(f"f.{c}" for c in wanted)
    # lifetime value and P(alive) of each customer where the CLV model was fitted
    clv = columns_of(con, "features.customer_clv")
    value = [c for c in VALUE_PROFILE if c in clv]
    joined = "".join(f", v.{c}" for c in value)
    join = (
        "left join features.customer_clv v on v.customer_id = s.customer_id and v.as_of = s.as_of "
        if value
        else ""
    )
    return frame(
        con,
        f"select s.customer_id, s.segment_id, s.segment_name, {cols}{joined} from ops.scores s "
        f"join {feature_set.relation} f on f.customer_id = s.customer_id and f.as_of = s.as_of "
        f"{join}where s.run_id = $r order by s.customer_id",
        {"r": run_id},
    )


def catalog(con: duckdb.DuckDBPyConnection, model_version: str) -> pd.DataFrame:
    """Names, descriptions and actions of the model's segments."""
    return frame(
        con,
        "select segment_id, segment_name, coalesce(description, '') as description, "
        "coalesce(action, '') as action, coalesce(rule, '') as rule "
        "from ops.segment_catalog where model_version = $v order by segment_id",
        {"v": model_version},
    )


def segment_summary(features: pd.DataFrame) -> pd.DataFrame:
    """Size, share and revenue share per segment (revenue share only where there is revenue)."""
    sizes = features.groupby(["segment_id", "segment_name"]).size().rename("size").reset_index()
    sizes["share"] = sizes["size"] / sizes["size"].sum()
    sizes["revenue_share"] = np.nan
    for col in VALUE_PROFILE:  # mean lifetime value and P(alive) per segment
        if col in features and features[col].notna().any():
            sizes[f"mean_{col}"] = sizes["segment_id"].map(
                features.groupby("segment_id")[col].mean()
            )
    if "monetary" in features:
        revenue = features.groupby("segment_id")["monetary"].sum()
        total = float(revenue.sum())
        if total > 0:
            sizes["revenue_share"] = sizes["segment_id"].map(revenue / total).to_numpy()
    return sizes.sort_values("segment_id").reset_index(drop=True)


def key_features(features: pd.DataFrame, numeric: list[str]) -> pd.DataFrame:
    """Per segment and feature: median vs population, and a skew-proof rank score."""
    numeric = list(dict.fromkeys([*numeric, *VALUE_PROFILE]))
    cols = [c for c in numeric if c in features and features[c].notna().any()]
    if not cols or features.empty:
        return pd.DataFrame()
    return feature_stats(features, features["segment_id"].to_numpy(), cols)


# Top products are estimated from a seeded sample of each segment's customers and their
# purchases in the year before as_of: the cost follows the sample and the recent days (the
# date filter skips old row groups of staging), not the whole history.
TOP_PRODUCTS_SAMPLE = 2_000  # customers per segment
TOP_PRODUCTS_DAYS = 365


def top_products(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    top_n: int = 5,
    min_customers: int = 5,
    min_customer_share: float = 0.02,
    sample_per_segment: int = TOP_PRODUCTS_SAMPLE,
    days: int = TOP_PRODUCTS_DAYS,
    seed: int = 42,
) -> pd.DataFrame:
    """Products over-represented in each segment's purchases of the last `days` (lift).

    lift = (product's share of the segment's revenue) / (its share of everyone's revenue);
    a product counts only if at least max(min_customers, min_customer_share * segment size)
    of the segment's (sampled) customers bought it, so one big order cannot top the list.
    Above `sample_per_segment` customers a segment is represented by a seeded sample, and
    everyone's revenue weights each segment's sample by its size, so shares stay unbiased.
    """
    if not table_exists(con, "staging.stg_transactions"):
        return pd.DataFrame()
    row = con.execute("select max(as_of) from ops.scores where run_id = $r", {"r": run_id})
    (as_of,) = row.fetchone()
    if as_of is None:
        return pd.DataFrame()
    return frame(
        con,
        """
        with scores as (
            select customer_id, segment_id, segment_name from ops.scores where run_id = $r
        ),
        sizes as (select segment_id, count(*) as seg_customers from scores group by all),
        sampled as (
            select * from scores
            qualify row_number() over (
                partition by segment_id order by hash(customer_id, $seed), customer_id
            ) <= $per_segment
        ),
        weights as (  -- each sampled customer stands for this many of the segment
            select segment_id, any_value(seg_customers) / count(*) as weight,
                   count(*) as sampled_customers
            from sampled join sizes using (segment_id) group by segment_id
        ),
        lines as materialized (  -- purchases before as_of by sampled customers (read once)
            select s.segment_id, s.segment_name, t.customer_id, t.product_code,
                   t.description, t.line_revenue
            from staging.stg_transactions t join sampled s on s.customer_id = t.customer_id
            where t.invoiced_at < $as_of and t.invoiced_at >= $as_of - to_days($days)
              and not t.is_cancellation and t.line_revenue > 0 and t.product_code is not null
        ),
        seg as (
            select segment_id, sum(line_revenue) as seg_revenue from lines group by all
        ),
        prod as (
            select l.product_code,
                   sum(l.line_revenue * w.weight) / (
                       select sum(x.line_revenue * y.weight)
                       from lines x join weights y using (segment_id)
                   ) as pop_share
            from lines l join weights w using (segment_id) group by all
        ),
        seg_prod as (
            select segment_id, segment_name, product_code, min(description) as description,
                   sum(line_revenue) as revenue, count(distinct customer_id) as customers
            from lines group by segment_id, segment_name, product_code
        ),
        scored as (
            select sp.*, sp.revenue / seg.seg_revenue as segment_share, prod.pop_share,
                   (sp.revenue / seg.seg_revenue) / prod.pop_share as lift,
                   sp.customers / w.sampled_customers as customer_share
            from seg_prod sp join seg using (segment_id) join weights w using (segment_id)
            join prod using (product_code)
            where sp.customers >= greatest($min_customers, $min_share * w.sampled_customers)
        )
        -- lift sums doubles in parallel (last bits vary by thread order): rank on 9 digits
        -- so equal lifts fall to revenue (exact decimal) and the code, the same every run
        select * from scored
        qualify row_number() over (
            partition by segment_id order by round(lift, 9) desc, revenue desc, product_code
        ) <= $top_n
        order by segment_id, round(lift, 9) desc, revenue desc, product_code
        """,
        {
            "r": run_id,
            "as_of": as_of,
            "days": days,
            "seed": seed,
            "per_segment": sample_per_segment,
            "top_n": top_n,
            "min_customers": min_customers,
            "min_share": min_customer_share,
        },
    )


def rfm_grid(features: pd.DataFrame) -> pd.DataFrame:
    """Customers per (R score, FM score) cell with the RFM segment of the cell."""
    if not set(RFM_COLUMNS) <= set(features.columns) or features["r_score"].isna().all():
        return pd.DataFrame()
    grid = features.dropna(subset=["r_score", "fm_score"]).groupby(["r_score", "fm_score"])
    return grid.agg(
        customers=("customer_id", "size"),
        rfm_segment=("rfm_segment", lambda s: s.mode().iat[0] if len(s) else ""),
    ).reset_index()


def rfm_vs_segments(features: pd.DataFrame) -> pd.DataFrame:
    """Crosstab of RFM segment (rows) by model segment (columns)."""
    if "rfm_segment" not in features or features["rfm_segment"].isna().all():
        return pd.DataFrame()
    return pd.crosstab(features["rfm_segment"], features["segment_name"])


def previous_publish(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    """The last run before this one that published segments (ops.runs), if any."""
    row = con.execute(
        "select p.run_id from ops.runs p where p.stage = 'publish' and p.status = 'completed' "
        "and p.run_id <> $r and p.started_at < coalesce((select min(started_at) from ops.runs "
        "where run_id = $r), now()::timestamp) "
        "and exists (select 1 from ops.scores s where s.run_id = p.run_id) "
        "order by p.started_at desc limit 1",
        {"r": run_id},
    ).fetchone()
    return row[0] if row else None


def migration(con: duckdb.DuckDBPyConnection, run_id: str, previous: str) -> pd.DataFrame:
    """Customers moving from each segment of the previous publish to each of this run."""
    return frame(
        con,
        "select coalesce(p.segment_name, '(new customer)') as previous, "
        "coalesce(c.segment_name, '(not scored now)') as current, count(*) as customers "
        "from (select * from ops.scores where run_id = $p) p "
        "full join (select * from ops.scores where run_id = $r) c using (customer_id) "
        "group by all order by 1, 2",
        {"r": run_id, "p": previous},
    )
