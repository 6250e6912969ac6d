-- Bookkeeping of incremental scoring (`segments score-recent`, segments/publish/recent.py):
-- which customers a run took in and what each of its publishes changed. Never read by BI tools.

-- Grain: (run_id, customer_id): a customer a score-recent run recomputed, because a load that
-- ended after the last publish staged transaction lines, web events or a customer record of
-- theirs.
create table if not exists ops.touched_customers (
    run_id varchar not null,
    customer_id varchar not null
);

-- Grain: one score-recent publish; key run_id. Its published_at moves "since the last publish"
-- on like a nightly publish's does (marts.publishes), so a second run with nothing new is a
-- no-op.
create table if not exists ops.recent_publishes (
    run_id varchar not null,
    as_of date not null,
    valid_from date not null,
    loads bigint not null,
    touched_customers bigint not null,
    scored_customers bigint not null,
    changed_customers bigint not null,
    model_version varchar not null,
    published_at timestamp not null
);
