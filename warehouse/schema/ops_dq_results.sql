-- Grain: one row per expectation evaluated per (run_id, stage, suite); written by segments.quality.
-- A run's gate reads the critical rows; dashboards read the rest. Append-only.
create table if not exists ops.dq_results (
    run_id varchar not null,
    stage varchar not null,           -- pipeline stage that validated (staging, features, segments)
    suite varchar not null,           -- expectations/<suite>.json
    relation varchar not null,        -- schema.table the suite validated
    expectation_type varchar not null,
    column_name varchar,              -- null for table-level and SQL expectations
    kwargs json,                      -- expectation kwargs with parameters as written in the suite
    severity varchar not null,        -- critical (stops the flow before publishing) | warning
    success boolean not null,         -- false also when the expectation raised an error
    observed_value varchar,           -- what GX saw, as text (or the error message)
    unexpected_count bigint,
    unexpected_percent double,
    element_count bigint,
    validated_at timestamp not null
);

-- Grain: (suite, load_id, run_id): a load whose rows passed the suite's checks on new rows
-- (a suite with "incremental": true in its meta), with the rows it had then. Those rows are
-- not validated again: a later run's batch is the loads not listed here, or holding more rows
-- than when they passed. A failed gate records nothing, so the next run checks the same loads
-- again. Deleting rows (a superseded file, an erasure) cannot make a passed check fail.
create table if not exists ops.validated_loads (
    suite varchar not null,
    load_id varchar not null,
    rows bigint not null,
    run_id varchar not null,
    validated_at timestamp not null
);
