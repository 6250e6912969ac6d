-- materialized: incremental by customer_id
-- Grain: (customer_id, first_purchase_date) for the customers in `changed_customers`: the
-- products bought for the first time that day, over every load. Distinct products as of D is
-- the sum of new_products over days before D: exact, and far fewer rows than the
-- (customer, product) pairs.
with

changed as (
    select customer_id from changed_customers
),

first_purchases as (
    select
        customer_id,
        product_code,
        min(first_purchase_date) as first_purchase_date
    from features.agg_load_products
    where customer_id in (select customer_id from changed)
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
