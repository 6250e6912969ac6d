-- Grain: one customer whose segment changed in this publish; key customer_id.
-- Built inside the publish transaction after marts.customer_segments is replaced and before
-- marts.segment_history is updated, so the open history rows are still the previous publish.
with

previous as (
    select * from marts.segment_history where valid_to is null
),

current_segments as (
    select * from marts.customer_segments
),

known as (
    -- customers with closed stays only: they left once, and are back now
    select distinct customer_id from marts.segment_history where valid_to is not null
),

previous_publish as (
    -- the model that served before: a move under a new model is worth telling the CRM apart.
    -- On or before $as_of: a nightly re-run has taken back its own publish row already, and a
    -- score-recent publish follows the one of its own as_of
    select model_version from marts.publishes where as_of <= $as_of order by as_of desc limit 1
),

this_publish as (
    select any_value(model_version) as model_version from current_segments
),

compared as (
    select
        coalesce(current_segments.customer_id, previous.customer_id) as customer_id,
        previous.segment_id as previous_segment_id,
        previous.segment_name as previous_segment_name,
        previous.valid_from as previous_since,
        current_segments.segment_id,
        current_segments.segment_name,
        case
            when previous.customer_id is null and known.customer_id is not null then 'returned'
            when previous.customer_id is null then 'new customer'
            -- no longer scored: no purchase features any more, or erased at the source
            when current_segments.customer_id is null then 'left'
            when previous_publish.model_version is distinct from this_publish.model_version
                then 'moved (new model)'
            else 'moved'
        end as change_reason
    from current_segments
    full outer join previous on previous.customer_id = current_segments.customer_id
    left join known on known.customer_id = current_segments.customer_id
    cross join this_publish
    left join previous_publish on true
    where previous.customer_id is null
        or current_segments.customer_id is null
        or previous.segment_id <> current_segments.segment_id
),

final as (
    select
        compared.customer_id,
        compared.previous_segment_id,
        compared.previous_segment_name,
        compared.previous_since,
        compared.segment_id,
        compared.segment_name,
        compared.change_reason,
        this_publish.model_version,
        cast($run_id as varchar) as run_id,
        cast($as_of as date) as as_of
    from compared
    cross join this_publish
)

select * from final
