-- Grain: one row per (run_id, stage); stage 'run' is the whole run.
create table if not exists ops.runs (
    run_id varchar not null,
    flow_name varchar not null,
    stage varchar not null,
    status varchar not null,          -- running | completed | failed | crashed | skipped
    as_of date,
    started_at timestamp not null,
    ended_at timestamp,
    message varchar,
    details json,
    pid integer,                      -- the process that ran it (a crashed run's is gone)
    host varchar,
    flow_run_id varchar,              -- the Prefect flow run, when a flow ran it
    primary key (run_id, stage)
);
