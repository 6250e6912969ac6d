-- Mart tables that each publish appends to rather than rebuilds (their SELECTs are
-- warehouse/marts/segment_history.sql, segment_migration.sql and publishes.sql).
-- A re-run of the same as_of first removes that as_of's rows, so a publish is never doubled.

-- Grain: one customer's stay in one segment, [valid_from, valid_to); key (customer_id, valid_from).
-- valid_to is null while the customer is still there. run_id, model_version, as_of are those of
-- the publish that opened the row (as_of = valid_from for a nightly publish; a score-recent
-- publish opens it on the load day, valid_from >= as_of); closed_by_run_id the one that closed it.
create table if not exists marts.segment_history (
    customer_id varchar not null,
    segment_id integer not null,
    segment_name varchar not null,
    valid_from date not null,
    valid_to date,
    model_version varchar not null,
    run_id varchar not null,
    as_of date not null,
    closed_by_run_id varchar
);

-- Grain: one (from segment, to segment) pair of one publish; key (as_of, from_segment_id,
-- to_segment_id). from null: new customers; to null: customers who left; from = to: stayed.
create table if not exists marts.segment_migration (
    as_of date not null,
    previous_as_of date,
    from_segment_id integer,
    from_segment_name varchar,
    to_segment_id integer,
    to_segment_name varchar,
    customers bigint not null,
    model_version varchar not null,
    run_id varchar not null
);

-- Grain: one publish (the one that stands for its as_of); key as_of. What readers check first.
create table if not exists marts.publishes (
    as_of date not null,
    previous_as_of date,
    run_id varchar not null,
    model_version varchar not null,
    customers bigint not null,
    changed_customers bigint not null,
    published_at timestamp not null
);
