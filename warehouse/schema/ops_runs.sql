-- Grain: one row per (run_id, stage); stage 'run' is the whole run.
create table if not exists ops.runs (
    run_id varchar not null,
    flow_name varchar not null,
    stage varchar not null,
    status varchar not null,          -- running | completed | failed | skipped
    as_of date,
    started_at timestamp not null,
    ended_at timestamp,
    message varchar,
    details json,
    primary key (run_id, stage)
);
