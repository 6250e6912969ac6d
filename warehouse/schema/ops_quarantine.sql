-- Grain: one row per rejected source line; raw_values has PII already hashed.
create table if not exists ops.quarantine (
    load_id varchar not null,
    source varchar not null,
    path varchar not null,
    line_number bigint,
    reason_code varchar not null,
    reason varchar not null,
    raw_values json,
    quarantined_at timestamp not null
);
