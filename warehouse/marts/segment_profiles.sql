-- Grain: one segment of the latest publish's model; key segment_id.
-- What a segment is (catalog name, description, action) beside what it holds now (sizes and
-- means of the published customers). Catalog segments nobody falls into show 0 customers.
with

segments as (
    select * from marts.customer_segments
),

this_publish as (
    select any_value(model_version) as model_version from segments
),

catalog as (
    select segment_catalog.*
    from ops.segment_catalog
    inner join this_publish on this_publish.model_version = segment_catalog.model_version
),

clv as (
    -- P(alive) of the BG/NBD fit of this as_of (features.customer_clv), where it was fitted
    select customer_id, p_alive from features.customer_clv where as_of = $as_of
),

sizes as (
    select
        segment_id,
        any_value(segment_name) as segment_name,
        count(*) as customers,
        sum(monetary) as revenue,
        avg(recency_days) as mean_recency_days,
        avg(frequency) as mean_frequency,
        avg(monetary) as mean_monetary,
        avg(segments.clv) as mean_clv,
        avg(clv.p_alive) as mean_p_alive,
        mode(rfm_segment) as top_rfm_segment
    from segments
    left join clv on clv.customer_id = segments.customer_id
    group by segment_id
),

final as (
    select
        coalesce(sizes.segment_id, catalog.segment_id) as segment_id,
        coalesce(catalog.segment_name, sizes.segment_name) as segment_name,
        catalog.description,
        catalog.action,
        coalesce(sizes.customers, 0) as customers,
        coalesce(sizes.customers, 0) / sum(coalesce(sizes.customers, 0)) over () as customer_share,
        sizes.revenue,
        -- null when no revenue is known (demographic feature set): a share of nothing is no 0
        sizes.revenue / nullif(sum(sizes.revenue) over (), 0) as revenue_share,
        sizes.mean_recency_days,
        sizes.mean_frequency,
        sizes.mean_monetary,
        sizes.mean_clv,
        sizes.mean_p_alive,
        sizes.top_rfm_segment,
        this_publish.model_version,
        cast($run_id as varchar) as run_id,
        cast($as_of as date) as as_of
    from sizes
    full outer join catalog on catalog.segment_id = sizes.segment_id
    cross join this_publish
)

select * from final order by segment_id
