-- Erased customers stay erased (segments forget, segments/privacy/).

-- Grain: one erased customer. Holds a digest of the pseudonym (sha256 of customer_id), never
-- the raw id or the pseudonym itself, so a scan for either finds nothing; ingest drops the
-- rows of a listed customer that a re-landed file or a database source brings back.
create table if not exists ops.suppressed_customers (
    id_digest varchar primary key,
    suppressed_at timestamp not null
);

-- Grain: one place (a table, or a file relative to SEGMENTS_HOME) changed by one erasure.
-- When and how many rows, never which customer.
create table if not exists ops.erasures (
    run_id varchar,                   -- the forget run, or the ingest run that dropped a re-landed customer
    erased_at timestamp not null,
    trigger varchar not null,         -- forget | ingest
    customers integer not null,       -- how many customers the erasure was for
    place varchar not null,           -- schema.table, or a file path relative to SEGMENTS_HOME
    action varchar not null,          -- rows_deleted | values_redacted | rebuilt | deleted
    rows bigint not null
);
