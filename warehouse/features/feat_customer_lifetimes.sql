-- Grain: one row per customer_id in feat_customer_rfm.
-- The lifetimes / PyMC-Marketing summary, identical to
--     lifetimes.utils.summary_data_from_transaction_data(
--         purchase lines, 'customer_id', 'invoiced_at', 'line_revenue_gbp',
--         observation_period_end = $as_of - 1 day, freq = 'D')
-- where purchase lines are the lines feat_customer_orders counts as purchases (no returns).
-- Why as_of - 1 day: lifetimes keeps every transaction whose day is <= observation_period_end,
-- and our cut is invoiced_at < as_of, so the last observed day is the day before as_of.
-- Passing as_of itself would let lifetimes see as_of's own transactions (a leak).
-- Periods are days: several invoices on one day are one purchase period.
with

purchase_days as (
    select * from features.feat_customer_purchase_days
),

observation as (
    select cast($as_of as date) - 1 as observation_period_end
),

dated as (
    select
        customer_id,
        purchase_date,
        purchase_gbp,
        min(purchase_date) over (partition by customer_id) as first_purchase_date
    from purchase_days
),

per_customer as (
    select
        customer_id,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        -- repeat purchase periods: purchase days after the first
        count(*) - 1 as lt_frequency,
        -- mean value of a repeat purchase day; the first day is excluded, as in lifetimes
        coalesce(avg(purchase_gbp) filter (where purchase_date > first_purchase_date), 0.0)
            as lt_monetary_gbp
    from dated
    group by customer_id
),

final as (
    select
        per_customer.customer_id,
        cast(per_customer.lt_frequency as integer) as lt_frequency,
        -- first to last purchase day
        cast(date_diff('day', per_customer.first_purchase_date, per_customer.last_purchase_date)
            as integer) as lt_recency_days,
        -- first purchase day to the end of the observation period (the day before as_of)
        cast(date_diff('day', per_customer.first_purchase_date,
            observation.observation_period_end) as integer) as lt_t_days,
        per_customer.lt_monetary_gbp
    from per_customer
    cross join observation
)

select * from final
