-- materialized: append
-- Grain: one segment of one publish; key (as_of, segment_id). Appended inside the publish
-- transaction after marts.segment_changes (joined/left) and before history moves on. Revenue
-- and orders cover the trailing [$as_of - $window_days, $as_of), so points are comparable
-- whatever the publishing cadence. Retention stays null here: it is only known once the
-- horizon after as_of has passed (publish/fill_kpi_retention.sql fills it in then).
-- A segment emptied by this publish keeps a row (0 customers) so its leavers are counted.
with

segments as (
    select * from marts.customer_segments
),

clv as (
    select customer_id, p_alive from features.customer_clv where as_of = $as_of
),

-- the trailing window's orders, counted like a backtest's outcomes (schema/01_macros.sql)
window_customers as (
    select customer_id, purchases as orders, purchase_value, net_revenue
    from customer_window_orders(
        'staging.stg_transactions',
        cast($as_of as date) - cast($window_days as integer), cast($as_of as date)
    )
),

changes as (
    select * from marts.segment_changes
),

joined as (
    select segment_id, count(*) as customers
    from changes
    where segment_id is not null
    group by segment_id
),

leavers as (
    select previous_segment_id as segment_id, any_value(previous_segment_name) as segment_name,
        count(*) as customers
    from changes
    where previous_segment_id is not null
    group by previous_segment_id
),

per_segment as (
    select
        segments.segment_id,
        any_value(segments.segment_name) as segment_name,
        count(*) as customers,
        -- net revenue (purchases minus returns) of the window; non-buyers count as 0
        coalesce(sum(window_customers.net_revenue), 0) as revenue,
        coalesce(sum(window_customers.orders), 0) as orders,
        sum(window_customers.purchase_value) / nullif(sum(window_customers.orders), 0)
            as avg_order_value,
        coalesce(sum(window_customers.orders), 0) / count(*) as purchases_per_customer,
        avg(segments.clv) as mean_clv,
        avg(clv.p_alive) as mean_p_alive
    from segments
    left join window_customers on window_customers.customer_id = segments.customer_id
    left join clv on clv.customer_id = segments.customer_id
    group by segments.segment_id
),

this_publish as (
    select any_value(model_version) as model_version from segments
),

final as (
    select
        cast($as_of as date) as as_of,
        cast($previous_as_of as date) as previous_as_of,
        coalesce(per_segment.segment_id, leavers.segment_id) as segment_id,
        coalesce(per_segment.segment_name, leavers.segment_name) as segment_name,
        this_publish.model_version,
        cast($run_id as varchar) as run_id,
        coalesce(per_segment.customers, 0) as customers,
        coalesce(per_segment.customers, 0) / sum(coalesce(per_segment.customers, 0)) over ()
            as customer_share,
        cast($window_days as integer) as window_days,
        per_segment.revenue,
        -- null when no revenue is known (demographic data): a share of nothing is no 0
        per_segment.revenue / nullif(sum(per_segment.revenue) over (), 0) as revenue_share,
        per_segment.orders,
        per_segment.avg_order_value,
        per_segment.purchases_per_customer,
        per_segment.mean_clv,
        per_segment.mean_p_alive,
        coalesce(joined.customers, 0) as joined_customers,
        coalesce(leavers.customers, 0) as left_customers,
        cast(null as double) as retention,
        cast(null as integer) as retention_horizon_days
    from per_segment
    full outer join leavers on leavers.segment_id = per_segment.segment_id
    left join joined on joined.segment_id = coalesce(per_segment.segment_id, leavers.segment_id)
    cross join this_publish
)

select * from final
order by segment_id
