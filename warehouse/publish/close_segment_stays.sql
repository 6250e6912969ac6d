-- Close the open stays of customers who moved or left in this publish (their new stays are
-- appended by marts/segment_history.sql right after). $valid_from is the day the change takes
-- effect: the as_of of a nightly publish, the load day of a score-recent one.
-- A stay that opened on that same day (a score-recent after the nightly of that day, or a
-- second score-recent the same day) is replaced, not closed: no stay lasts zero days.
delete from marts.segment_history
where valid_to is null
    and valid_from = $valid_from
    and customer_id in (
        select customer_id from marts.segment_changes where previous_segment_id is not null
    );

update marts.segment_history
set valid_to = $valid_from, closed_by_run_id = $run_id
where valid_to is null
    and customer_id in (
        select customer_id from marts.segment_changes where previous_segment_id is not null
    );
