-- materialized: incremental by customer_id
-- Grain: (customer_id, invoice_id, invoice_date) for the customers in `changed_customers`:
-- the per-load invoice-days of agg_load_invoice_days added together (an invoice that came in
-- two loads, e.g. a late line, is one row here).
with

changed as (
    select customer_id from changed_customers
),

partials as (
    select * from features.agg_load_invoice_days
    where customer_id in (select customer_id from changed)
),

final as (
    select
        customer_id,
        invoice_id,
        invoice_date,
        min(invoiced_at) as invoiced_at,
        max(country) as country,
        bool_or(is_purchase) as is_purchase,
        sum(purchase_value) as purchase_value,
        sum(returned_value) as returned_value,
        sum(net_revenue) as net_revenue,
        sum(lines) as lines
    from partials
    group by customer_id, invoice_id, invoice_date
)

select * from final
