-- Grain: one row per customer scored in this run (the latest publish); key customer_id.
-- What BI tools read: the segment, the RFM segment beside it, and the headline features.
with

scores as (
    select * from ops.scores where run_id = $run_id
),

features as (
    -- a demographic-only warehouse has no purchase features: the left join leaves them null
    select * from features.customer_features where as_of = $as_of
),

clv as (
    -- probabilistic CLV (BG/NBD + Gamma-Gamma) where it was fitted for this as_of
    select * from features.customer_clv where as_of = $as_of
),

final as (
    select
        scores.customer_id,
        scores.segment_id,
        scores.segment_name,
        features.rfm_segment,
        features.recency_days,
        features.frequency,
        features.monetary,
        -- the simple SQL estimate stands in where the probabilistic model has no value
        coalesce(clv.clv, features.predicted_clv) as clv,
        scores.model_version,
        scores.run_id,
        scores.as_of
    from scores
    left join features on features.customer_id = scores.customer_id
    left join clv on clv.customer_id = scores.customer_id
)

select * from final
