-- materialized: append
-- Grain: one customer's stay in one segment, [valid_from, valid_to); key (customer_id,
-- valid_from). Appended by each publish: the stays that begin now (new, returned and moved
-- customers, from marts.segment_changes), after warehouse/publish/close_segment_stays.sql
-- closed the stays they leave. valid_from is the day the change takes effect: the as_of of a
-- nightly publish, the load day of a score-recent one (segments/publish/recent.py). The table
-- itself is declared in schema/marts_history.sql.
with

changes as (
    select * from marts.segment_changes
),

final as (
    select
        customer_id,
        segment_id,
        segment_name,
        cast($valid_from as date) as valid_from,
        cast(null as date) as valid_to,
        model_version,
        run_id,
        as_of,
        cast(null as varchar) as closed_by_run_id
    from changes
    where segment_id is not null  -- customers who left open no stay
)

select * from final
