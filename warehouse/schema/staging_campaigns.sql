-- The `campaigns` entity (warehouse/sources/demo_campaigns.yaml is an example mapping): who
-- was sent which campaign, in which test group, and how they responded. Kept apart from
-- staging_tables.sql so the campaign feedback loop stays one addition.
-- Grain: one recipient of one campaign; key (source, load_id, line_number); natural key
-- (campaign_id, customer_id). customer_id is the HMAC pseudonym, like everywhere.
-- test_group: 'treatment' (sent the message) or 'control' (held out); null means treatment.
create table if not exists staging.stg_campaigns (
    source varchar not null,
    load_id varchar not null,
    line_number bigint not null,
    campaign_id varchar not null,
    customer_id varchar not null,
    sent_at timestamp not null,
    channel varchar,
    test_group varchar,
    opened_at timestamp,
    clicked_at timestamp,
    converted_at timestamp,
    revenue double
);
