-- materialized: temp
-- Grain: one row per customer_id with at least one web event before $as_of.
-- Web behaviour; customers without events are absent (the final model leaves them null).
-- A session is a distinct session_id; events without one count as visits but not sessions.
-- Reads the per-load session-days of agg_load_sessions (events summed per session and day)
-- and, for customers whose visits all come before as_of, their last visit day in
-- agg_customer_summary.
with

summary as (
    select customer_id, last_event_date from features.agg_customer_summary
    where last_event_date is not null
),

last_visit_day as (
    -- visits all before as_of: the all-time last visit day
    select customer_id, last_event_date as last_visit_date from summary
    where last_event_date < cast($as_of as date)
    union all
    -- visits on or after as_of too: the last one before it (point in time: as_of exclusive)
    select customer_id, max(event_date) as last_visit_date from features.agg_load_sessions
    where event_date < cast($as_of as date)
        and customer_id in (
            select customer_id from summary where last_event_date >= cast($as_of as date)
        )
    group by customer_id
),

last_visit as (
    select
        customer_id,
        -- whole days from the last visit day to as_of: 1 means visited the day before
        cast(date_diff('day', last_visit_date, cast($as_of as date)) as integer)
            as days_since_last_visit
    from last_visit_day
),

recent_sessions as (
    select
        customer_id,
        session_id,
        bool_or(has_cart) as has_cart,
        bool_or(has_purchase) as has_purchase
    -- (read twice without a shared CTE, so each read filters its own rows in the scan)
    from features.agg_load_sessions
    -- the last 90 days: as_of - 90 .. as_of - 1
    where event_date >= cast($as_of as date) - 90
        and event_date < cast($as_of as date)
        and session_id is not null
    group by customer_id, session_id
),

session_counts as (
    select
        customer_id,
        cast(count(*) as integer) as sessions_90d,
        count(*) filter (where has_cart) as cart_sessions_90d,
        -- a conversion is a session that both carted and purchased
        count(*) filter (where has_cart and has_purchase) as converted_sessions_90d
    from recent_sessions
    group by customer_id
),

final as (
    select
        last_visit.customer_id,
        last_visit.days_since_last_visit,
        coalesce(session_counts.sessions_90d, 0) as sessions_90d,
        -- null when no session put anything in the cart: the rate is undefined, not 0
        session_counts.converted_sessions_90d
            / nullif(session_counts.cart_sessions_90d, 0) as cart_to_purchase_90d
    from last_visit
    left join session_counts on last_visit.customer_id = session_counts.customer_id
)

select * from final
