-- Monitoring across runs (segments/monitor/): drift of today's inputs against the champion's
-- training distribution, and the champion's segments re-scored once a horizon has matured.

-- Grain: one feature (or the segment shares) checked in one run; key (run_id, feature).
-- psi: population stability index of today's distribution against the training reference
-- saved with model_version; verdict 'stable' (< watch_threshold), 'watch' or 'act'
-- (>= threshold, the SEGMENTS_DRIFT_ACT_PSI setting: auto retrain and a Prefect event).
-- kind: 'feature' (a column of the feature set) or 'segments' (segment shares of the
-- champion's assignment today against its training assignment).
create table if not exists ops.drift (
    run_id varchar not null,
    as_of date not null,
    model_version varchar not null,
    feature_set varchar not null,
    kind varchar not null,
    feature varchar not null,
    psi double not null,
    watch_threshold double not null,
    threshold double not null,
    verdict varchar not null,
    reference_rows bigint,
    rows bigint,
    recorded_at timestamp not null,
    primary key (run_id, feature)
);

-- Grain: one matured publish re-scored in one run; key (run_id). The segments published as
-- of publish_as_of, measured over [publish_as_of, publish_as_of + horizon_days) as in the
-- business backtest (eta squared of log future revenue, spread of retention), beside the
-- training backtest of the model that published them. verdict 'ok' | 'decayed' (a relative
-- drop beyond SEGMENTS_DECAY_MAX_DROP) | 'superseded' (decayed, but that model is no longer
-- the champion, so nothing to act on).
create table if not exists ops.model_monitoring (
    run_id varchar not null,
    as_of date not null,
    model_version varchar not null,
    publish_as_of date not null,
    horizon_days integer not null,
    customers bigint not null,
    segments integer not null,
    explained_variance double,
    retention_spread double,
    retention double,
    train_explained_variance double,
    train_retention_spread double,
    explained_variance_drop double,
    retention_spread_drop double,
    max_drop double,
    is_champion boolean not null,
    verdict varchar not null,
    recorded_at timestamp not null,
    primary key (run_id)
);
