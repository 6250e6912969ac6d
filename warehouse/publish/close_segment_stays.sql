-- Close the open stays of customers who moved or left in this publish (their new stays are
-- appended by marts/segment_history.sql right after).
update marts.segment_history
set valid_to = $as_of, closed_by_run_id = $run_id
where valid_to is null
    and customer_id in (
        select customer_id from marts.segment_changes where previous_segment_id is not null
    );
