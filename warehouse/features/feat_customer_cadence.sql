-- Grain: one row per customer_id in feat_customer_rfm.
-- How regularly a customer buys: gaps in days between consecutive purchase days
-- (same-day invoices are one purchase day, so a gap is never 0).
with

purchase_days as (
    select * from features.feat_customer_purchase_days
),

gaps as (
    select
        customer_id,
        date_diff('day', lag(purchase_date) over (
            partition by customer_id order by purchase_date), purchase_date) as gap_days
    from purchase_days
),

final as (
    select
        customer_id,
        -- null for one purchase day: there is no gap to measure yet
        avg(gap_days) as mean_days_between_purchases,
        -- sample standard deviation; null until there are two gaps
        stddev_samp(gap_days) as std_days_between_purchases
    from gaps
    group by customer_id
)

select * from final
