-- materialized: temp
-- Grain: one row per customer_id in feat_customer_rfm.
-- RFM scores 1-5 by quintile, the RFM code, and the named segment from seeds.rfm_segment_rules.
--
-- Quintile rule (rank-based, so equal values always share a score and the result never
-- depends on customer_id or row order):
--     score = 1 + floor(5 * (number of customers with a worse value) / (number of customers))
-- i.e. 1 + floor(5 * (rank - 1) / n) with rank() ascending from worst to best. Ties at a
-- quintile edge all take the score of the lowest tied position, so quintiles can be unequal
-- in size (many one-order customers share F = 1) but two identical customers never differ.
-- Worst to best: recency descending (older is worse), frequency and monetary ascending.
with

rfm as (
    select * from features.feat_customer_rfm
),

segment_rules as (
    select * from seeds.rfm_segment_rules
),

ranked as (
    select
        customer_id,
        recency_days,
        frequency,
        monetary,
        count(*) over () as customers,
        rank() over (order by recency_days desc) as recency_rank,
        rank() over (order by frequency asc) as frequency_rank,
        rank() over (order by monetary asc) as monetary_rank
    from rfm
),

scored as (
    select
        customer_id,
        -- integer division keeps the quintile edges exact (no floating point at the edge)
        cast(1 + (5 * (recency_rank - 1)) // customers as integer) as r_score,
        cast(1 + (5 * (frequency_rank - 1)) // customers as integer) as f_score,
        cast(1 + (5 * (monetary_rank - 1)) // customers as integer) as m_score
    from ranked
),

coded as (
    select
        *,
        cast(r_score as varchar) || cast(f_score as varchar) || cast(m_score as varchar)
            as rfm_code,
        -- the segment grid is R x FM: frequency and monetary averaged, a half rounded up
        -- (benefit of the doubt), as documented in seeds.rfm_segment_rules
        cast((f_score + m_score + 1) // 2 as integer) as fm_score
    from scored
),

final as (
    select
        coded.customer_id,
        coded.r_score,
        coded.f_score,
        coded.m_score,
        coded.fm_score,
        coded.rfm_code,
        segment_rules.rfm_segment
    from coded
    -- the rule table covers each (r, fm) cell exactly once (tested), so this keeps every row
    left join segment_rules
        on coded.r_score between segment_rules.r_score_min and segment_rules.r_score_max
        and coded.fm_score between segment_rules.fm_score_min and segment_rules.fm_score_max
)

select * from final
