-- Grain: one row per customer_id: the latest attributes across all loads.
-- History stays in staging.customer_versions (never overwritten).
with

versions as (
    select * from staging.customer_versions
),

ranked as (
    select
        *,
        -- later loads win; within a load the later line wins (an update further down the file)
        row_number() over (
            partition by customer_id order by loaded_at desc, load_id desc, line_number desc
        ) as version_rank
    from versions
),

final as (
    select
        customer_id,
        source,
        load_id,
        name_hash,
        email_hash,
        gender,
        birth_date,
        age_years,
        annual_income,
        spending_score,
        country,
        signup_date
    from ranked
    where version_rank = 1
)

select * from final
