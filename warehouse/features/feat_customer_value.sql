-- materialized: temp
-- Grain: one row per customer_id in feat_customer_rfm.
-- Historical CLV and a simple predicted CLV. Assumptions are parameters, set by the settings
-- SEGMENTS_CLV_MARGIN and SEGMENTS_CLV_EXPECTED_LIFETIME_MONTHS:
--   $margin                    gross margin as a fraction of revenue (default 0.3)
--   $expected_lifetime_months  how long a customer keeps buying at today's rate (default 24)
-- The probabilistic CLV (BG/NBD + Gamma-Gamma) is fitted in Python: segments/clv.py.
with

rfm as (
    select * from features.feat_customer_rfm
),

final as (
    select
        customer_id,
        -- net revenue to date, after returns: what the customer has been worth so far
        monetary as historical_clv,
        -- average order value x orders per month x months to come x margin; a customer whose
        -- returns exceed purchases is expected to be worth nothing, not a negative amount
        greatest(avg_order_value, 0)
            * purchases_per_month
            * cast($expected_lifetime_months as double)
            * cast($margin as double) as predicted_clv
    from rfm
)

select * from final
