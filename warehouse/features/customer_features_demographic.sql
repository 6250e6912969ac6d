-- Grain: one row per (as_of, customer_id) for every customer known before $as_of.
-- The `demographic` feature set (the Mall Customers case): a warehouse with customer
-- attributes but no transactions, so the population is the customer table, not purchasers.
with

customers as (
    select * from staging.stg_customers
),

final as (
    select
        cast($as_of as date) as as_of,
        customer_id,
        -- completed years at as_of; the loaded age when the source has no birth date
        coalesce(cast(date_sub('year', birth_date, cast($as_of as date)) as integer), age_years)
            as age_years,
        gender,
        annual_income,
        spending_score,
        country
    from customers
    -- point in time: a customer who signed up on or after as_of is not known yet
    -- (sources without a signup date, like Mall Customers, keep every customer)
    where signup_date is null or signup_date < cast($as_of as date)
)

select * from final
