-- materialized: append
-- One load's good events into staging.stg_events; `_load_lines` as in stg_transactions.sql.
select
    $source as source,
    $load_id as load_id,
    _line_number as line_number,
    customer_id,
    session_id,
    event_type,
    event_at,
    channel
from _load_lines
