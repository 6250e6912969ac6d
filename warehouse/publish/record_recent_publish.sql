-- One row of ops.recent_publishes for this score-recent publish, last in its transaction.
insert into ops.recent_publishes
select
    $run_id as run_id,
    cast($as_of as date) as as_of,
    cast($valid_from as date) as valid_from,
    $loads as loads,
    (select count(*) from ops.touched_customers where run_id = $run_id) as touched_customers,
    (select count(*) from ops.scores where run_id = $run_id) as scored_customers,
    (select count(*) from marts.segment_changes) as changed_customers,
    $model_version as model_version,
    cast($published_at as timestamp) as published_at;
