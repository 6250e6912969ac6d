-- materialized: temp
-- Grain: one row per customer_id in feat_customer_rfm.
-- The customer's sequence of purchase days: the lifetimes summary and the gaps between days.
--
-- lt_* are identical to
--     lifetimes.utils.summary_data_from_transaction_data(
--         purchase lines, 'customer_id', 'invoiced_at', 'line_revenue',
--         observation_period_end = $as_of - 1 day, freq = 'D')
-- where purchase lines are the lines the order summary counts as purchases (no returns).
-- Why as_of - 1 day: lifetimes keeps every transaction whose day is <= observation_period_end,
-- and our cut is invoiced_at < as_of, so the last observed day is the day before as_of.
-- Passing as_of itself would let lifetimes see as_of's own transactions (a leak).
-- Periods are days: several invoices on one day are one purchase period, and a day with only
-- returns is not a purchase period. The day counts and sums come from the
-- customer_order_summary macro (schema/01_macros.sql) through feat_customer_order_summary.
with

summary as (
    select * from features.feat_customer_order_summary
    -- purchasers only, as in feat_customer_rfm
    where purchase_days > 0
),

per_customer as (
    select
        customer_id,
        first_purchase_date,
        last_purchase_date,
        -- repeat purchase periods: purchase days after the first
        purchase_days - 1 as lt_frequency,
        -- gaps between consecutive purchase days (never 0: same-day invoices are one day):
        -- n gaps sum to last - first day; their squares are summed in the macro
        purchase_days - 1 as gaps,
        date_diff('day', first_purchase_date, last_purchase_date) as gap_sum,
        gap_square_sum,
        -- purchase value of the days after the first (exact decimal)
        gross_purchase_value - first_day_purchase_value as repeat_purchase_value
    from summary
),

final as (
    select
        customer_id,
        cast(lt_frequency as integer) as lt_frequency,
        -- first to last purchase day
        cast(gap_sum as integer) as lt_recency_days,
        -- first purchase day to the end of the observation period (the day before as_of)
        cast(date_diff('day', first_purchase_date, cast($as_of as date) - 1) as integer)
            as lt_t_days,
        -- mean value of a repeat purchase day; the first day is excluded, as in lifetimes
        case when lt_frequency > 0 then cast(repeat_purchase_value as double) / lt_frequency
            else 0.0 end as lt_monetary,
        -- the mean is null for one purchase day, the sample deviation until there are two gaps
        case when gaps > 0 then gap_sum / gaps end as mean_days_between_purchases,
        -- sample standard deviation from exact integer sums, so it never depends on row order
        case when gaps > 1 then sqrt(
            (gaps * gap_square_sum - gap_sum * gap_sum) / (gaps * (gaps - 1))
        ) end as std_days_between_purchases
    from per_customer
)

select * from final
