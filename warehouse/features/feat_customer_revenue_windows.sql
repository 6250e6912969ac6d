-- materialized: temp
-- Grain: one row per customer_id in feat_customer_rfm.
-- Net revenue (purchases minus returns) in trailing windows that end the day before $as_of:
-- the last N days are as_of - N .. as_of - 1. Sums are exact (decimal), then double.
with

orders as (
    -- the per-load invoice-days: sums need no merging, and rows arrive roughly in date
    -- order, so the window's date filter skips old row groups
    select * from features.agg_load_invoice_days
),

purchasers as (
    select customer_id from features.feat_customer_rfm
),

windows as (
    select
        customer_id,
        cast(coalesce(sum(net_revenue) filter (
            where invoice_date >= cast($as_of as date) - 30), 0) as double) as revenue_30d,
        cast(coalesce(sum(net_revenue) filter (
            where invoice_date >= cast($as_of as date) - 90), 0) as double) as revenue_90d,
        cast(coalesce(sum(net_revenue) filter (
            where invoice_date >= cast($as_of as date) - 365), 0) as double) as revenue_365d,
        -- the quarter before the last one: as_of - 180 .. as_of - 91
        cast(coalesce(sum(net_revenue) filter (
            where invoice_date >= cast($as_of as date) - 180
                and invoice_date < cast($as_of as date) - 90), 0) as double) as revenue_prior_90d
    from orders
    -- only the last 365 days matter here; point in time: $as_of is exclusive
    where invoice_date >= cast($as_of as date) - 365
        and invoice_date < cast($as_of as date)
    group by customer_id
),

final as (
    select
        purchasers.customer_id,
        coalesce(windows.revenue_30d, 0.0) as revenue_30d,
        coalesce(windows.revenue_90d, 0.0) as revenue_90d,
        coalesce(windows.revenue_365d, 0.0) as revenue_365d,
        coalesce(windows.revenue_prior_90d, 0.0) as revenue_prior_90d,
        -- last quarter against the one before, scaled by their total size so it stays in
        -- [-1, 1]: +1 all revenue is new, -1 it stopped, 0 flat (or no revenue in either)
        case
            when abs(coalesce(windows.revenue_90d, 0.0))
                + abs(coalesce(windows.revenue_prior_90d, 0.0)) = 0 then 0.0
            else (windows.revenue_90d - windows.revenue_prior_90d)
                / (abs(windows.revenue_90d) + abs(windows.revenue_prior_90d))
        end as revenue_trend_qoq
    from purchasers
    left join windows on purchasers.customer_id = windows.customer_id
)

select * from final
