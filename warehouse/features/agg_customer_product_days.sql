-- materialized: incremental by customer_id
-- Grain: (customer_id, first_purchase_date) for the customers in `changed_customers`: how
-- many products the customer bought for the first time that day, over every load. Distinct
-- products as of D is the sum of new_products over days before D: exact, and about a tenth of
-- the (customer, product) pairs. Read from the changed customers' staging lines directly (a
-- per-load table of pairs would have to be merged again, which costs more than this). Same
-- cut as agg_load_invoice_days: a known customer, purchase lines only (a returned product
-- was not bought again), a product code.
with

changed as (
    select customer_id from changed_customers
),

purchase_lines as (
    select customer_id, product_code, cast(invoiced_at as date) as invoice_date
    from staging.stg_transactions
    where customer_id in (select customer_id from changed)
        and product_code is not null
        -- purchase lines only (schema/01_macros.sql)
        and not is_return_line(is_cancellation, quantity)
),

first_purchases as (
    select customer_id, product_code, min(invoice_date) as first_purchase_date
    from purchase_lines
    group by customer_id, product_code
),

final as (
    select
        customer_id,
        first_purchase_date,
        count(*) as new_products
    from first_purchases
    group by customer_id, first_purchase_date
)

select * from final
