-- Per-customer aggregates the point-in-time features read instead of every line: kept up to
-- date incrementally from each load's staging rows (warehouse/features/agg_*.sql, how:
-- segments/core/incremental.py), rebuilt whole by `segments rebuild`. Every table is keyed
-- by customer_id, so erasing a customer is a delete by customer_id here too. Money is summed
-- as DECIMAL(38, 4), exactly, so the totals do not depend on the order rows are added in:
-- an incremental build and a full rebuild give the same numbers to the last digit.

-- Grain: (load_id, customer_id, invoice_id, invoice_date): one load's lines of one invoice
-- of one customer on one day. Guest lines (no customer) are not here.
create table if not exists features.agg_load_invoice_days (
    load_id varchar not null,
    customer_id varchar not null,
    invoice_id varchar not null,
    invoice_date date not null,
    invoiced_at timestamp not null,      -- the earliest line of the invoice that day
    country varchar,
    is_purchase boolean not null,        -- at least one purchase line (not a return)
    purchase_value decimal(38, 4) not null,
    returned_value decimal(38, 4) not null,  -- returns as a positive amount
    net_revenue decimal(38, 4) not null,
    lines bigint not null
);

-- Grain: (customer_id, first_purchase_date): how many products the customer bought for the
-- first time that day; distinct products as of D = the sum over days before D.
create table if not exists features.agg_customer_product_days (
    customer_id varchar not null,
    first_purchase_date date not null,
    new_products bigint not null
);

-- Grain: (load_id, customer_id, session_id, event_date): one load's web events of one session
-- (null: events without a session, visits only) of one customer on one day.
create table if not exists features.agg_load_sessions (
    load_id varchar not null,
    customer_id varchar not null,
    session_id varchar,
    event_date date not null,
    has_cart boolean not null,
    has_purchase boolean not null,
    events bigint not null
);

-- Grain: customer_id, every customer with a line or a web event: the all-time summary (the
-- columns of the customer_order_summary macro, schema/01_macros.sql, plus products and the
-- last visit). As of any date after last_line_date (and last_event_date) this is the
-- customer's summary as of that date, which is what a nightly run asks for; customers with
-- lines on or after as_of are summed from agg_load_invoice_days instead.
create table if not exists features.agg_customer_summary (
    customer_id varchar not null,
    first_purchase_date date,
    last_purchase_date date,
    last_line_date date,
    frequency bigint,
    net_revenue decimal(38, 4),
    gross_purchase_value decimal(38, 4),
    returned_value decimal(38, 4),
    last_purchase_country varchar,
    purchase_days bigint,
    first_day_purchase_value decimal(38, 4),
    gap_square_sum hugeint,
    distinct_products bigint,
    last_event_date date
);
