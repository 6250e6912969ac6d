-- materialized: incremental by load_id of staging.stg_transactions
-- Grain: (load_id, customer_id, product_code) for the loads in `changed_loads`: one load's
-- purchase lines of one product by one customer (the basket breadth and the report's
-- product affinity read it). Same cut as agg_load_invoice_days: a known customer, purchase
-- lines only (a returned product was not bought again), a product code.
with

changed as (
    select load_id from changed_loads
),

purchase_lines as (
    select
        load_id,
        customer_id,
        product_code,
        cast(invoiced_at as date) as invoice_date,
        cast(line_revenue as decimal(38, 4)) as line_revenue
    from staging.stg_transactions
    where load_id in (select load_id from changed)
        and customer_id is not null
        and product_code is not null
        -- purchase lines only (schema/01_macros.sql)
        and not is_return_line(is_cancellation, quantity)
),

final as (
    select
        load_id,
        customer_id,
        product_code,
        min(invoice_date) as first_purchase_date,
        max(invoice_date) as last_purchase_date,
        sum(line_revenue) as purchase_value,
        count(*) as lines
    from purchase_lines
    group by load_id, customer_id, product_code
)

select * from final
-- in date order: readers filter on the date, and the table's zone maps skip old row groups
order by first_purchase_date
