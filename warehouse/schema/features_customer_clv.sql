-- Grain: (as_of, customer_id). Probabilistic CLV (BG/NBD + Gamma-Gamma, segments/clv.py),
-- written from Python after the SQL features; one as_of at a time, like customer_features.
create table if not exists features.customer_clv (
    as_of date not null,
    customer_id varchar not null,
    expected_purchases_horizon double,
    p_alive double,
    expected_avg_value double,
    clv double,
    horizon_months integer not null,
    monthly_discount_rate double not null
);
