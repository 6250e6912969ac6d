-- materialized: incremental by load_id of staging.stg_events
-- Grain: (load_id, customer_id, session_id, event_date) for the loads in `changed_loads`: one
-- load's web events of one session of one customer on one day; session_id null holds the
-- events without a session (visits, but not sessions). The point-in-time cut is applied by
-- the readers on event_date (event_at < as_of exactly when event_date < as_of).
with

changed as (
    select load_id from changed_loads
),

events as (
    select load_id, customer_id, session_id, event_type, event_at
    from staging.stg_events
    where load_id in (select load_id from changed)
),

final as (
    select
        load_id,
        customer_id,
        session_id,
        cast(event_at as date) as event_date,
        bool_or(event_type = 'cart') as has_cart,
        bool_or(event_type = 'purchase') as has_purchase,
        count(*) as events
    from events
    group by load_id, customer_id, session_id, cast(event_at as date)
)

select * from final
