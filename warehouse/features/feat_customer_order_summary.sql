-- materialized: temp
-- Grain: one row per customer_id with an invoice-day before $as_of: the order summary as of
-- as_of (columns of the customer_order_summary macro, schema/01_macros.sql). The point-in-time
-- cut of every transaction feature lives here:
-- - a customer whose lines all come before as_of (last_line_date < as_of, every customer on
--   a nightly run) is known as of as_of exactly as in the all-time agg_customer_summary;
-- - a customer with lines on or after as_of (a backtest cutoff, a backfill) is summed again
--   from their per-load invoice-days before as_of, with the same macro.
with

summary as (
    select * from features.agg_customer_summary
),

settled as (
    select * exclude (distinct_products, last_event_date)
    from summary
    where last_line_date < cast($as_of as date)
),

unsettled as (
    select customer_id from summary
    where last_line_date >= cast($as_of as date)
),

unsettled_days as (
    select * from features.agg_load_invoice_days
    -- point in time: $as_of is exclusive, nothing invoiced on or after it is known yet
    where invoice_date < cast($as_of as date)
        and customer_id in (select customer_id from unsettled)
),

final as (
    select * from settled
    union all by name
    select * from customer_order_summary(unsettled_days)
)

select * from final
