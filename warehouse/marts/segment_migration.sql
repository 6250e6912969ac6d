-- materialized: append
-- Grain: one (from segment, to segment) pair of one publish; key (as_of, from_segment_id,
-- to_segment_id). Appended inside the publish transaction after marts.customer_segments is
-- replaced and before marts.segment_history moves on, so the open stays are still the
-- previous publish's. from null: new customers; to null: customers who left; from = to: stayed.
with

previous as (
    select * from marts.segment_history where valid_to is null
),

current_segments as (
    select * from marts.customer_segments
),

pairs as (
    select
        previous.segment_id as from_segment_id,
        previous.segment_name as from_segment_name,
        current_segments.segment_id as to_segment_id,
        current_segments.segment_name as to_segment_name
    from current_segments
    full outer join previous on previous.customer_id = current_segments.customer_id
),

final as (
    select
        cast($as_of as date) as as_of,
        cast($previous_as_of as date) as previous_as_of,
        from_segment_id,
        from_segment_name,
        to_segment_id,
        to_segment_name,
        count(*) as customers,
        (select any_value(model_version) from current_segments) as model_version,
        $run_id as run_id
    from pairs
    group by from_segment_id, from_segment_name, to_segment_id, to_segment_name
)

select * from final
order by from_segment_id nulls first, to_segment_id nulls first
