-- materialized: append
-- One load's new customer versions into staging.customer_versions (stg_customers keeps the
-- latest); `_load_lines` as in stg_transactions.sql.
select
    $source as source,
    $load_id as load_id,
    _line_number as line_number,
    customer_id,
    name_hash,
    email_hash,
    gender,
    birth_date,
    age_years,
    annual_income,
    spending_score,
    country,
    signup_date,
    $loaded_at::timestamp as loaded_at
from _load_lines
