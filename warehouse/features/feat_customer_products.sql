-- materialized: temp
-- Grain: one row per customer_id in feat_customer_rfm (a purchase line before $as_of).
-- Breadth of the basket: distinct products bought before as_of (purchase lines only: a
-- returned product was not bought again; lines without a product code are not counted).
-- A customer whose lines all come before as_of has the all-time count of
-- agg_customer_summary; the others count the products first bought before as_of in
-- agg_customer_product_days.
with

purchasers as (
    select customer_id from features.feat_customer_rfm
),

summary as (
    select customer_id, last_line_date, distinct_products from features.agg_customer_summary
),

settled as (
    select customer_id, distinct_products from summary
    where last_line_date < cast($as_of as date)
),

unsettled as (
    select product_days.customer_id, sum(product_days.new_products) as distinct_products
    from features.agg_customer_product_days as product_days
    -- point in time: $as_of is exclusive
    where product_days.first_purchase_date < cast($as_of as date)
        and product_days.customer_id in (
            select customer_id from summary where last_line_date >= cast($as_of as date)
        )
    group by product_days.customer_id
),

counts as (
    select * from settled
    union all
    select * from unsettled
),

final as (
    select
        purchasers.customer_id,
        cast(coalesce(counts.distinct_products, 0) as integer) as distinct_products
    from purchasers
    left join counts on purchasers.customer_id = counts.customer_id
)

select * from final
