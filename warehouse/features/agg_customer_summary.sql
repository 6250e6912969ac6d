-- materialized: incremental by customer_id
-- Grain: customer_id for the customers in `changed_customers`: the all-time order summary
-- (the customer_order_summary macro over every load's invoice-days), distinct products and the last
-- web visit day. Nothing here is cut at a date: the feature models use a row as it is only
-- for a customer whose lines (and visits) all come before as_of.
with

changed as (
    select customer_id from changed_customers
),

invoice_days as (
    select * from features.agg_load_invoice_days
    where customer_id in (select customer_id from changed)
),

orders as (
    select * from customer_order_summary(invoice_days)
),

products as (
    select customer_id, sum(new_products) as distinct_products
    from features.agg_customer_product_days
    where customer_id in (select customer_id from changed)
    group by customer_id
),

visits as (
    select customer_id, max(event_date) as last_event_date
    from features.agg_load_sessions
    where customer_id in (select customer_id from changed)
    group by customer_id
),

final as (
    select
        coalesce(orders.customer_id, visits.customer_id) as customer_id,
        orders.* exclude (customer_id),
        products.distinct_products,
        visits.last_event_date
    from orders
    left join products on orders.customer_id = products.customer_id
    full join visits on orders.customer_id = visits.customer_id
)

select * from final
