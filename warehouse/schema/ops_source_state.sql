-- Grain: one row per database source read incrementally; the updated_at value read up to.
-- Moved in the same transaction as the batch it follows, so a crash never skips rows.
create table if not exists ops.source_state (
    source varchar primary key,
    high_water_mark varchar not null,   -- the last updated_at value loaded, as text
    updated_at timestamp not null
);
