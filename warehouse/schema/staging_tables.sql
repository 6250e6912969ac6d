-- Canonical staging tables that every source mapping loads into (see warehouse/sources/).
-- Grain: one source line; key (source, load_id, line_number).
create table if not exists staging.stg_transactions (
    source varchar not null,
    load_id varchar not null,
    line_number bigint not null,
    invoice_id varchar not null,
    product_code varchar,
    description varchar,
    quantity integer not null,
    unit_price double not null,
    invoiced_at timestamp not null,
    customer_id varchar,              -- HMAC pseudonym; null for guest checkouts
    country varchar,
    is_cancellation boolean not null,
    line_revenue double not null
);

-- Grain: one version of one customer's attributes; stg_customers keeps the latest.
create table if not exists staging.customer_versions (
    source varchar not null,
    load_id varchar not null,
    line_number bigint not null,
    customer_id varchar not null,
    name_hash varchar,
    email_hash varchar,
    gender varchar,
    birth_date date,
    age_years integer,
    annual_income double,
    spending_score integer,
    country varchar,
    signup_date date,
    loaded_at timestamp not null
);

-- Grain: one event; key (source, load_id, line_number).
create table if not exists staging.stg_events (
    source varchar not null,
    load_id varchar not null,
    line_number bigint not null,
    customer_id varchar not null,
    session_id varchar,
    event_type varchar not null,
    event_at timestamp not null,
    channel varchar
);
