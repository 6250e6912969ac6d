-- Bookkeeping of the incremental models (segments/core/incremental.py); rebuilt by
-- `segments rebuild`, never read by BI tools.

-- Grain: one incremental model (relation); the hash of the SQL its rows were built with. A
-- different hash rebuilds the model whole at its next run.
create table if not exists ops.incremental_models (
    relation varchar not null,
    sql_sha256 varchar not null,
    refreshed_at timestamp not null
);

-- Grain: (relation, load_id): one load folded into one `incremental by load_id` model, with
-- its fingerprint in the model's source then (rows, sum of line numbers). A different
-- fingerprint now (rows deleted by a superseding file or an erasure) or a load gone from the
-- source redoes that load.
create table if not exists ops.incremental_loads (
    relation varchar not null,
    load_id varchar not null,
    source_rows bigint not null,
    line_number_sum hugeint,
    refreshed_at timestamp not null
);
