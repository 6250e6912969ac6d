-- Grain: one customer with lines or sessions in the outcome window [$cutoff, $end); key
-- customer_id. What a backtest measures after its cutoff: purchases, revenue and web
-- sessions. The window ends at or before the run's as_of (lifecycle/backtest.py checks it),
-- so a backtest never reads a line at or after as_of.
with

-- the outcome window: cutoff inclusive, end exclusive (end <= as_of, nothing later); the
-- order rules are the KPIs' (schema/01_macros.sql)
order_counts as (
    select * from customer_window_orders(
        'staging.stg_transactions', cast($cutoff as date), cast($end as date)
    )
),

sessions as (
    select
        customer_id,
        session_id,
        bool_or(event_type = 'purchase') as has_purchase
    from staging.stg_events
    where event_at >= cast($cutoff as date) and event_at < cast($end as date)
        and customer_id is not null and session_id is not null
    group by customer_id, session_id
),

session_counts as (
    select
        customer_id,
        count(*) as sessions,
        count(*) filter (where has_purchase) as converted_sessions
    from sessions
    group by customer_id
),

final as (
    select
        coalesce(o.customer_id, s.customer_id) as customer_id,
        coalesce(o.purchases, 0) as purchases,
        coalesce(o.purchase_value, 0.0) as purchase_value,
        coalesce(o.net_revenue, 0.0) as net_revenue,
        s.sessions,
        s.converted_sessions
    from order_counts as o
    full outer join session_counts as s on o.customer_id = s.customer_id
)

select * from final
order by customer_id  -- a full outer join's row order varies between runs
