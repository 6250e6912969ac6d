-- Grain: one row per attempt to load one file (or table read) through a source mapping.
-- Conservation: rows_read = rows_staged + rows_quarantined + duplicates for every loaded file.
create table if not exists ops.loads (
    load_id varchar primary key,
    run_id varchar,
    source varchar not null,
    entity varchar not null,
    path varchar not null,
    sha256 varchar,
    size_bytes bigint,
    rows_read bigint,
    rows_staged bigint,
    rows_quarantined bigint,
    duplicates bigint,
    rows_without_customer bigint,     -- staged, kept for product analysis, not in customer features
    status varchar not null,          -- loaded | skipped | failed | superseded
    message varchar,
    started_at timestamp not null,
    ended_at timestamp
);
