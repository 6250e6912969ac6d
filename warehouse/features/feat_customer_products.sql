-- Grain: one row per customer_id with a purchase line before $as_of.
-- Breadth of the basket: distinct products bought. This needs line grain, so it reads staging
-- with the same cut as feat_customer_orders (before as_of, known customer, purchase lines).
with

transactions as (
    select * from staging.stg_transactions
),

final as (
    select
        customer_id,
        cast(count(distinct product_code) as integer) as distinct_products
    from transactions
    -- point in time: $as_of is exclusive
    where invoiced_at < cast($as_of as date)
        and customer_id is not null
        -- purchase lines only (schema/01_macros.sql): a returned product was not bought again
        and not is_return_line(is_cancellation, quantity)
    group by customer_id
)

select * from final
