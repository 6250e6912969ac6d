-- Take back the publish of $as_of before it is published again: drop the rows it opened,
-- reopen the rows it closed, forget its migration and its publish row. A re-run replaces
-- that publish and never adds a second one. Stays a score-recent opened or closed on top of
-- that publish (on its load day, on or after $as_of) are taken back with it.
delete from marts.segment_history where valid_from >= $as_of;

update marts.segment_history set valid_to = null, closed_by_run_id = null
where valid_to >= $as_of;

delete from marts.segment_migration where as_of = $as_of;

delete from marts.publishes where as_of = $as_of;

delete from marts.segment_kpis where as_of = $as_of;
