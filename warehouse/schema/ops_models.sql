-- Grain: one trained model version. status: champion (scores customers) | challenger | retired.
create table if not exists ops.model_registry (
    model_version varchar primary key,
    trained_at timestamp not null,
    run_id varchar,
    as_of date,
    feature_set varchar not null,
    algorithm varchar not null,
    params json,
    k integer not null,
    metrics json,
    backtest json,
    training_rows bigint,
    training_checksum varchar,
    artifact_path varchar not null,
    status varchar not null,
    reason varchar,
    promoted_at timestamp
);

-- Grain: one candidate (algorithm x parameters) evaluated in one training run.
create table if not exists ops.model_candidates (
    run_id varchar not null,
    model_version varchar not null,
    algorithm varchar not null,
    params json,
    k integer,
    silhouette double,
    davies_bouldin double,
    calinski_harabasz double,
    wcss double,
    bic double,
    noise_share double,
    smallest_share double,
    stability double,
    fit_seconds double,
    is_knee boolean,
    passed_gates boolean,
    chosen boolean,
    recorded_at timestamp not null
);

-- The business backtest of each gate-passing candidate (null when not backtested):
-- business_score = mean lift over the RFM baseline of the two summaries (segments/backtest.py).
-- Added with `if not exists` so warehouses created before keep working.
alter table ops.model_candidates add column if not exists business_score double;
alter table ops.model_candidates add column if not exists backtest_explained_variance double;
alter table ops.model_candidates add column if not exists backtest_retention_spread double;
alter table ops.model_candidates add column if not exists beats_baseline boolean;

-- Grain: one customer scored in one run (the input of marts.customer_segments).
create table if not exists ops.scores (
    run_id varchar not null,
    as_of date not null,
    customer_id varchar not null,
    segment_id integer not null,
    segment_name varchar not null,
    model_version varchar not null,
    primary key (run_id, customer_id)
);

-- Grain: one segment of one model version: its stable id, name and suggested action.
create table if not exists ops.segment_catalog (
    model_version varchar not null,
    segment_id integer not null,
    segment_name varchar not null,
    description varchar,
    action varchar,
    centroid json,
    primary key (model_version, segment_id)
);

-- Grain: one segment of one backtest (model_version, cutoff, method 'model' | 'rfm_baseline'),
-- plus one total row per backtest with segment_id and segment_name null that carries the
-- summaries (explained_variance, retention_spread, retention_std; null on segment rows).
-- Outcomes are measured over [cutoff, cutoff + horizon_days), which ends at or before as_of.
-- RFM baseline rows have no segment_id (segment_name is the RFM segment).
create table if not exists ops.backtests (
    model_version varchar not null,
    run_id varchar,
    cutoff date not null,
    horizon_days integer not null,
    method varchar not null,
    segment_id integer,
    segment_name varchar,
    customers bigint,
    retention double,
    revenue_per_customer double,
    avg_order_value double,
    purchases_per_customer double,
    conversion double,
    explained_variance double,
    retention_spread double,
    recorded_at timestamp not null
);

-- size-weighted standard deviation of segment retention (a tiny extreme segment cannot make it)
alter table ops.backtests add column if not exists retention_std double;

-- The out-of-time selection (segments/models/backtest_select.py): every candidate recipe
-- (family x feature space x k), what it scored on the validation window and why it failed.
-- candidate: e.g. 'kmeans[rank value] k=6'; recipe without k; family: cluster | tree | distill.
-- backtest_eta2 / backtest_retention_eta2: eta2 of log1p future revenue / of buying again;
-- objective: what the selection maximised; null where the candidate was not evaluated.
alter table ops.model_candidates add column if not exists candidate varchar;
alter table ops.model_candidates add column if not exists recipe varchar;
alter table ops.model_candidates add column if not exists family varchar;
alter table ops.model_candidates add column if not exists space varchar;
alter table ops.model_candidates add column if not exists selection_mode varchar;
alter table ops.model_candidates add column if not exists objective double;
alter table ops.model_candidates add column if not exists backtest_eta2 double;
alter table ops.model_candidates add column if not exists backtest_adjusted_eta2 double;
alter table ops.model_candidates add column if not exists backtest_retention_eta2 double;
alter table ops.model_candidates add column if not exists gate_failures varchar;
-- several validation windows (docs/models.md): backtest_* and objective are means over the
-- backtest_folds windows a candidate was judged on; fold_objectives: {cutoff: objective} of
-- each, as measured (objective aligns their levels); in_band: within one standard error of
-- the best objective, where the largest retention spread wins
alter table ops.model_candidates add column if not exists backtest_folds integer;
alter table ops.model_candidates add column if not exists fold_objectives varchar;
alter table ops.model_candidates add column if not exists in_band boolean;

-- a tree segment's readable rule (null for clusterings)
alter table ops.segment_catalog add column if not exists rule varchar;

-- the peers of a backtest: method 'kmeans_log_rfm' besides 'model' and 'rfm_baseline';
-- k, retention_eta2 and the selection objective on the total row
alter table ops.backtests add column if not exists k integer;
alter table ops.backtests add column if not exists retention_eta2 double;
alter table ops.backtests add column if not exists objective double;

-- Grain: one customer of one model version's training run in one 2-D view (method 'pca' |
-- 'tsne', a seeded sample). Computed once at training so the report only reads it.
create table if not exists ops.model_embeddings (
    model_version varchar not null,
    method varchar not null,
    customer_id varchar not null,
    segment_id integer not null,
    x double not null,
    y double not null
);
