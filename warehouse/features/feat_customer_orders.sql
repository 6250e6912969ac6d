-- Grain: one row per (customer_id, invoice_id, invoice_date) for lines invoiced before $as_of.
-- The order-level base of every transaction feature: the point-in-time cut, the customer
-- filter and the purchase/return rule live here. feat_customer_products needs line grain and
-- repeats them; tests/sql/test_feature_properties.py checks both against one reference.
-- (An invoice whose lines straddle midnight gives one row per day, as lifetimes would see it.)
with

transactions as (
    select * from staging.stg_transactions
),

lines as (
    select
        customer_id,
        invoice_id,
        invoiced_at,
        country,
        line_revenue,
        -- the purchase/return rule (schema/01_macros.sql)
        is_return_line(is_cancellation, quantity) as is_return_line
    from transactions
    -- point in time: $as_of is exclusive, nothing invoiced on or after it is known yet
    where invoiced_at < cast($as_of as date)
        -- guest lines (no customer) stay in staging for product analysis, not here
        and customer_id is not null
),

final as (
    select
        customer_id,
        invoice_id,
        cast(invoiced_at as date) as invoice_date,
        min(invoiced_at) as invoiced_at,
        -- the shipping country of the invoice (one per invoice in practice)
        max(country) as country,
        -- an invoice-day is a purchase when it holds at least one purchase line
        bool_or(not is_return_line) as is_purchase,
        coalesce(sum(line_revenue) filter (where not is_return_line), 0) as purchase_value,
        -- returns as a positive amount, so return_rate reads naturally
        coalesce(-sum(line_revenue) filter (where is_return_line), 0) as returned_value,
        sum(line_revenue) as net_revenue
    from lines
    group by customer_id, invoice_id, cast(invoiced_at as date)
)

select * from final
