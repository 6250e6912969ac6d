-- Grain: one row per customer_id in feat_customer_rfm.
-- The customer's sequence of purchase days: the lifetimes summary and the gaps between days.
--
-- lt_* are identical to
--     lifetimes.utils.summary_data_from_transaction_data(
--         purchase lines, 'customer_id', 'invoiced_at', 'line_revenue',
--         observation_period_end = $as_of - 1 day, freq = 'D')
-- where purchase lines are the lines feat_customer_orders counts as purchases (no returns).
-- Why as_of - 1 day: lifetimes keeps every transaction whose day is <= observation_period_end,
-- and our cut is invoiced_at < as_of, so the last observed day is the day before as_of.
-- Passing as_of itself would let lifetimes see as_of's own transactions (a leak).
-- Periods are days: several invoices on one day are one purchase period, and a day with only
-- returns is not a purchase period.
with

orders as (
    select * from features.feat_customer_orders
),

purchase_days as (
    select
        customer_id,
        invoice_date as purchase_date,
        -- gross value bought that day: lifetimes sums the purchase lines of a period
        sum(purchase_value) as purchase_value
    from orders
    where is_purchase
    group by customer_id, invoice_date
),

sequenced as (
    select
        customer_id,
        purchase_date,
        purchase_value,
        min(purchase_date) over by_customer as first_purchase_date,
        date_diff('day', lag(purchase_date) over by_customer, purchase_date) as gap_days
    from purchase_days
    window by_customer as (partition by customer_id order by purchase_date)
),

per_customer as (
    select
        customer_id,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        -- repeat purchase periods: purchase days after the first
        count(*) - 1 as lt_frequency,
        -- mean value of a repeat purchase day; the first day is excluded, as in lifetimes
        coalesce(avg(purchase_value) filter (where purchase_date > first_purchase_date), 0.0)
            as lt_monetary,
        -- gaps between consecutive purchase days (never 0: same-day invoices are one day);
        -- the mean is null for one purchase day, the sample deviation until there are two gaps
        avg(gap_days) as mean_days_between_purchases,
        stddev_samp(gap_days) as std_days_between_purchases
    from sequenced
    group by customer_id
),

final as (
    select
        customer_id,
        cast(lt_frequency as integer) as lt_frequency,
        -- first to last purchase day
        cast(date_diff('day', first_purchase_date, last_purchase_date) as integer)
            as lt_recency_days,
        -- first purchase day to the end of the observation period (the day before as_of)
        cast(date_diff('day', first_purchase_date, cast($as_of as date) - 1) as integer)
            as lt_t_days,
        lt_monetary,
        mean_days_between_purchases,
        std_days_between_purchases
    from per_customer
)

select * from final
