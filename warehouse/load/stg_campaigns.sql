-- materialized: append
-- One load's campaign feedback lines into staging.stg_campaigns; `_load_lines` as in
-- stg_transactions.sql.
select
    $source as source,
    $load_id as load_id,
    _line_number as line_number,
    campaign_id,
    customer_id,
    sent_at,
    channel,
    test_group,
    opened_at,
    clicked_at,
    converted_at,
    revenue
from _load_lines
