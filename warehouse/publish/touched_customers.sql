-- The loads and customers a score-recent run takes in. recent_loads (a temp table of this
-- connection): every load that ended after the last publish, nightly (marts.publishes) or
-- score-recent (ops.recent_publishes); before any publish, every load. ops.touched_customers
-- for $run_id: everyone with staged rows of those loads: new or late transaction lines and
-- returns, web events, new or changed customer records.
create or replace temp table recent_loads as
with

last_publish as (
    select coalesce(max(published_at), timestamp '1900-01-01') as published_at
    from (
        select published_at from marts.publishes
        union all
        select published_at from ops.recent_publishes
    )
)

select loads.load_id, loads.source, loads.ended_at
from ops.loads as loads
cross join last_publish
where loads.status = 'loaded' and loads.ended_at > last_publish.published_at;

delete from ops.touched_customers where run_id = $run_id;

insert into ops.touched_customers
with

customers as (
    select customer_id from staging.stg_transactions
    where load_id in (select load_id from recent_loads)
    union
    select customer_id from staging.stg_events
    where load_id in (select load_id from recent_loads)
    union
    select customer_id from staging.customer_versions
    where load_id in (select load_id from recent_loads)
)

select $run_id as run_id, customer_id
from customers
where customer_id is not null
order by customer_id;
