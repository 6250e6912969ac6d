-- materialized: temp
-- Grain: one row per customer_id with at least one purchase before $as_of.
-- Recency, frequency and monetary value plus the ratios built from them.
with

summary as (
    -- one row per customer with an invoice-day before as_of, cut at as_of
    select * from features.feat_customer_order_summary
),

per_customer as (
    select
        customer_id,
        first_purchase_date,
        last_purchase_date,
        -- frequency counts purchase invoices; cancellation invoices are returns, not orders
        frequency,
        -- monetary is net: purchases minus every return booked before as_of, even a return
        -- of goods bought before the data starts (exact decimal sums, double from here on)
        cast(net_revenue as double) as monetary,
        cast(gross_purchase_value as double) as gross_purchase_value,
        cast(returned_value as double) as returned_value,
        -- where the customer last bought: the fallback when the customer table has no country
        last_purchase_country
    from summary
),

purchasers as (
    -- customers with only returns before as_of have no recency or tenure: not in the features
    select * from per_customer
    where frequency > 0
),

final as (
    select
        customer_id,
        first_purchase_date,
        last_purchase_date,
        -- whole days from the last purchase day to as_of: 1 means bought the day before
        cast(date_diff('day', last_purchase_date, cast($as_of as date)) as integer)
            as recency_days,
        cast(frequency as integer) as frequency,
        monetary,
        gross_purchase_value,
        returned_value,
        last_purchase_country,
        -- net value per purchase invoice (same basis as monetary)
        monetary / frequency as avg_order_value,
        cast(date_diff('day', first_purchase_date, cast($as_of as date)) as integer)
            as tenure_days,
        -- purchase invoices per average month (365.25 / 12 days); a tenure under a month
        -- counts as one month so a first-week buyer does not score 30 purchases a month
        frequency / (greatest(date_diff('day', first_purchase_date, cast($as_of as date)),
                              365.25 / 12) / (365.25 / 12)) as purchases_per_month,
        -- share of gross purchase value returned, capped at 1: a return of goods bought
        -- before the data starts could otherwise push it above 1
        case
            when gross_purchase_value > 0 then least(returned_value / gross_purchase_value, 1.0)
            -- only free items bought: any return is all of it
            when returned_value > 0 then 1.0
            else 0.0
        end as return_rate
    from purchasers
)

select * from final
