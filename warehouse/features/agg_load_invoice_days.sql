-- materialized: incremental by load_id of staging.stg_transactions
-- Grain: (load_id, customer_id, invoice_id, invoice_date) for the loads in `changed_loads`.
-- The order-level base of every transaction feature, per load so a load superseded by a
-- re-landed file (or shortened by an erasure) is taken out and redone on its own. The
-- customer filter and the purchase/return rule live here; the point-in-time cut is applied
-- by the readers on invoice_date (as_of is a date, so invoiced_at < as_of exactly when
-- invoice_date < as_of). An invoice whose lines straddle midnight gives one row per day.
with

changed as (
    select load_id from changed_loads
),

lines as (
    select
        load_id,
        customer_id,
        invoice_id,
        invoiced_at,
        country,
        -- exact decimal sums: the same totals whatever order lines and loads are added in
        cast(line_revenue as decimal(38, 4)) as line_revenue,
        -- the purchase/return rule (schema/01_macros.sql)
        is_return_line(is_cancellation, quantity) as is_return_line
    from staging.stg_transactions
    where load_id in (select load_id from changed)
        -- guest lines (no customer) stay in staging for product analysis, not here
        and customer_id is not null
),

final as (
    select
        load_id,
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
        sum(line_revenue) as net_revenue,
        count(*) as lines
    from lines
    group by load_id, customer_id, invoice_id, cast(invoiced_at as date)
)

select * from final
-- in date order: readers filter on the date, and the table's zone maps skip old row groups
order by invoice_date
