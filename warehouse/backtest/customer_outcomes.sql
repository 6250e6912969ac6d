-- Grain: one customer with lines or sessions in the outcome window [$cutoff, $end); key
-- customer_id. What a backtest measures after its cutoff: purchases, revenue and web
-- sessions. The window ends at or before the run's as_of (lifecycle/backtest.py checks it),
-- so a backtest never reads a line at or after as_of.
with

lines as (
    select
        customer_id,
        invoice_id,
        line_revenue,
        -- the purchase/return rule of the features (schema/01_macros.sql)
        is_return_line(is_cancellation, quantity) as is_return_line
    from staging.stg_transactions
    -- the outcome window: cutoff inclusive, end exclusive (end <= as_of, nothing later)
    where invoiced_at >= cast($cutoff as date) and invoiced_at < cast($end as date)
        and customer_id is not null
),

orders as (
    select
        customer_id,
        invoice_id,
        bool_or(not is_return_line) as is_purchase,
        coalesce(sum(line_revenue) filter (where not is_return_line), 0) as purchase_value,
        sum(line_revenue) as net_revenue
    from lines
    group by customer_id, invoice_id
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

order_counts as (
    select
        customer_id,
        count(*) filter (where is_purchase) as purchases,
        coalesce(sum(purchase_value) filter (where is_purchase), 0) as purchase_value,
        sum(net_revenue) as net_revenue
    from orders
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
