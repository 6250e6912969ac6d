-- materialized: append
-- Grain: one publish (the one that stands for its as_of); key as_of. What readers check
-- first. Appended last in the publish transaction, after the other marts of this publish.
with

current_segments as (
    select * from marts.customer_segments
),

final as (
    select
        cast($as_of as date) as as_of,
        cast($previous_as_of as date) as previous_as_of,
        $run_id as run_id,
        (select any_value(model_version) from current_segments) as model_version,
        (select count(*) from current_segments) as customers,
        (select count(*) from marts.segment_changes) as changed_customers,
        cast($published_at as timestamp) as published_at
)

select * from final
