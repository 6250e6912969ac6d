-- materialized: append
-- One load's good transaction lines into staging.stg_transactions. `_load_lines` holds the
-- load's typed, checked, de-duplicated rows (made from the source mapping by
-- segments/ingest/casting.py); is_cancellation is the mapping's cancellation rule.
select
    $source as source,
    $load_id as load_id,
    _line_number as line_number,
    invoice_id,
    product_code,
    description,
    quantity,
    unit_price,
    invoiced_at,
    customer_id,
    country,
    is_cancellation,
    line_revenue(quantity, unit_price) as line_revenue
from _load_lines
