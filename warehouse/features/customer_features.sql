-- Grain: one row per (as_of, customer_id); only customers with a purchase before $as_of.
-- The feature table the clustering reads (named column sets: segments/feature_sets.py).
-- Every input is already cut at as_of; this model only joins them.
-- Demographics come from staging.stg_customers, which holds each customer's latest attributes:
-- they are treated as static (no history of when they changed), except age, which is
-- computed at as_of from the birth date when there is one.
with

rfm as (
    select * from features.feat_customer_rfm
),

rfm_scores as (
    select * from features.feat_customer_rfm_scores
),

value as (
    select * from features.feat_customer_value
),

lifetimes as (
    select * from features.feat_customer_lifetimes
),

revenue_windows as (
    select * from features.feat_customer_revenue_windows
),

products as (
    select * from features.feat_customer_products
),

activity as (
    select * from features.feat_customer_activity
),

customers as (
    select * from staging.stg_customers
),

demographics as (
    select
        customer_id,
        -- completed years at as_of; the loaded age when the source has no birth date
        coalesce(cast(date_sub('year', birth_date, cast($as_of as date)) as integer), age_years)
            as age_years,
        gender,
        annual_income,
        spending_score,
        country
    from customers
),

final as (
    select
        cast($as_of as date) as as_of,
        rfm.customer_id,
        rfm.recency_days,
        rfm.frequency,
        rfm.monetary,
        rfm.avg_order_value,
        rfm.tenure_days,
        rfm.purchases_per_month,
        lifetimes.mean_days_between_purchases,
        lifetimes.std_days_between_purchases,
        -- every purchaser has a purchase line, so products always has the customer
        products.distinct_products,
        rfm.return_rate,
        revenue_windows.revenue_30d,
        revenue_windows.revenue_90d,
        revenue_windows.revenue_365d,
        revenue_windows.revenue_trend_qoq,
        -- web features are null for customers without events before as_of
        activity.days_since_last_visit,
        activity.sessions_90d,
        activity.cart_to_purchase_90d,
        demographics.age_years,
        demographics.gender,
        demographics.annual_income,
        demographics.spending_score,
        -- the customer record wins; else the country of the last purchase
        coalesce(demographics.country, rfm.last_purchase_country) as country,
        lifetimes.lt_frequency,
        lifetimes.lt_recency_days,
        lifetimes.lt_t_days,
        lifetimes.lt_monetary,
        rfm_scores.r_score,
        rfm_scores.f_score,
        rfm_scores.m_score,
        rfm_scores.fm_score,
        rfm_scores.rfm_code,
        rfm_scores.rfm_segment,
        value.historical_clv,
        value.predicted_clv
    from rfm
    inner join rfm_scores on rfm.customer_id = rfm_scores.customer_id
    inner join value on rfm.customer_id = value.customer_id
    inner join lifetimes on rfm.customer_id = lifetimes.customer_id
    inner join revenue_windows on rfm.customer_id = revenue_windows.customer_id
    left join products on rfm.customer_id = products.customer_id
    left join activity on rfm.customer_id = activity.customer_id
    left join demographics on rfm.customer_id = demographics.customer_id
)

select * from final
