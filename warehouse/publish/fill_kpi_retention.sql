-- Fill in the retention of earlier publishes whose horizon has matured by this publish:
-- of the customers in a segment at that publish (marts.segment_history), the share who
-- bought again in [that as_of, that as_of + $horizon_days), which ends at or before $as_of.
-- Rows already filled keep their value; a re-run computes the same numbers.
update marts.segment_kpis as kpis
set retention = matured.retention, retention_horizon_days = $horizon_days
from (
    with

    due as (
        select distinct as_of
        from marts.segment_kpis
        where retention is null
            and as_of + cast($horizon_days as integer) <= cast($as_of as date)
    ),

    members as (
        select due.as_of, history.customer_id, history.segment_id
        from due
        inner join marts.segment_history as history
            on history.valid_from <= due.as_of
            and (history.valid_to is null or history.valid_to > due.as_of)
    ),

    buyers as (
        select distinct members.as_of, members.customer_id
        from members
        inner join staging.stg_transactions as lines
            on lines.customer_id = members.customer_id
            and lines.invoiced_at >= members.as_of
            and lines.invoiced_at < members.as_of + cast($horizon_days as integer)
        -- a purchase, by the rule of the features (schema/01_macros.sql)
        where not is_return_line(lines.is_cancellation, lines.quantity)
    )

    select
        members.as_of,
        members.segment_id,
        avg(cast(buyers.customer_id is not null as double)) as retention
    from members
    left join buyers
        on buyers.as_of = members.as_of and buyers.customer_id = members.customer_id
    group by members.as_of, members.segment_id
) as matured
where kpis.as_of = matured.as_of and kpis.segment_id = matured.segment_id;
