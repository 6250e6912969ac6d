-- Grain: one row per (customer_id, purchase_date): the days on which a customer bought.
-- A purchase day is lifetimes' unit of repeat purchase (freq = 'D'); returns are not purchases,
-- so a day with only returns is not a purchase day.
with

orders as (
    select * from features.feat_customer_orders
),

final as (
    select
        customer_id,
        invoice_date as purchase_date,
        -- gross value bought that day: what lifetimes sees for the day (see feat_customer_lifetimes)
        sum(purchase_gbp) as purchase_gbp,
        count(distinct invoice_id) as invoices
    from orders
    where is_purchase
    group by customer_id, invoice_date
)

select * from final
