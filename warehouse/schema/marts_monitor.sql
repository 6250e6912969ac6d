-- Monitoring marts that each publish appends to (their SELECT: warehouse/marts/segment_kpis.sql).
-- A re-run of the same as_of first removes that as_of's rows (publish/undo_publish.sql).

-- Grain: one segment of one publish; key (as_of, segment_id). Sizes, value and movement of
-- each segment at each publish: revenue and orders over the trailing window_days before
-- as_of, joined/left since the previous publish, and retention (bought again within
-- retention_horizon_days after as_of), null until that horizon has matured and filled in by
-- the first publish after it (publish/fill_kpi_retention.sql).
create table if not exists marts.segment_kpis (
    as_of date not null,
    previous_as_of date,
    segment_id integer,
    segment_name varchar,
    model_version varchar not null,
    run_id varchar not null,
    customers bigint not null,
    customer_share double,
    window_days integer not null,
    revenue double,
    revenue_share double,
    orders bigint,
    avg_order_value double,
    purchases_per_customer double,
    mean_clv double,
    mean_p_alive double,
    joined_customers bigint not null,
    left_customers bigint not null,
    retention double,
    retention_horizon_days integer
);
