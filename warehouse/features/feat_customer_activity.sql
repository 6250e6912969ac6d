-- Grain: one row per customer_id with at least one web event before $as_of.
-- Web behaviour; customers without events are absent (the final model leaves them null).
-- A session is a distinct session_id; events without one count as visits but not sessions.
with

events as (
    select * from staging.stg_events
),

visible as (
    select
        customer_id,
        session_id,
        event_type,
        event_at
    from events
    -- point in time: $as_of is exclusive
    where event_at < cast($as_of as date)
),

last_visit as (
    select
        customer_id,
        -- whole days from the last visit day to as_of: 1 means visited the day before
        cast(date_diff('day', cast(max(event_at) as date), cast($as_of as date)) as integer)
            as days_since_last_visit
    from visible
    group by customer_id
),

recent_sessions as (
    select
        customer_id,
        session_id,
        bool_or(event_type = 'cart') as has_cart,
        bool_or(event_type = 'purchase') as has_purchase
    from visible
    -- the last 90 days: as_of - 90 .. as_of - 1
    where event_at >= cast($as_of as date) - 90
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
