-- Rules every model shares, defined once as macros (the features, the backtest outcomes and
-- the report all call them; change a rule here and every reader follows).

-- A return: a cancellation invoice ('C...' in most sources; see the mapping's rule) or any
-- negative quantity (a stock adjustment keyed to a customer). Every other line is a
-- purchase, free items included.
create or replace macro is_return_line(is_cancellation, quantity) as
    (is_cancellation or quantity < 0);

-- A customer's order summary from their per-load invoice-days (rows shaped like
-- features.agg_load_invoice_days: name the relation, e.g. a CTE). Defined once, used twice:
-- the all-time summary kept incrementally (features.agg_customer_summary) and the summary as of
-- a date for customers with lines on or after it (features.feat_customer_order_summary), so
-- both give the same numbers. Every aggregate here gives the same result whether an
-- invoice-day came in one load or several (sums, min, max, distinct counts), so no merging
-- of the loads is needed. Money stays DECIMAL (exact sums, in any order).
create or replace macro customer_order_summary(invoice_days) as table
with

days as (
    select * from query_table(invoice_days)
),

-- the days with a purchase: lifetimes' periods (several invoices on one day are one period;
-- rows without a purchase line hold no purchase value)
purchase_days as (
    select customer_id, invoice_date as purchase_date, sum(purchase_value) as purchase_value
    from days
    where is_purchase
    group by customer_id, invoice_date
),

sequenced as (
    select
        customer_id,
        purchase_value,
        purchase_date = min(purchase_date) over by_customer as is_first_day,
        date_diff('day', lag(purchase_date) over by_customer, purchase_date) as gap_days
    from purchase_days
    window by_customer as (partition by customer_id order by purchase_date)
),

day_stats as (
    select
        customer_id,
        count(*) as purchase_days,
        sum(purchase_value) filter (where is_first_day) as first_day_purchase_value,
        -- the gaps' sum is last - first purchase day; their squares need the sequence
        coalesce(sum(gap_days * gap_days), 0) as gap_square_sum
    from sequenced
    group by customer_id
),

order_stats as (
    select
        customer_id,
        min(invoice_date) filter (where is_purchase) as first_purchase_date,
        max(invoice_date) filter (where is_purchase) as last_purchase_date,
        -- the last day with any line (returns too): past it, nothing of the customer changes
        max(invoice_date) as last_line_date,
        -- purchase invoices; cancellation invoices are returns, not orders
        count(distinct invoice_id) filter (where is_purchase) as frequency,
        sum(net_revenue) as net_revenue,
        sum(purchase_value) as gross_purchase_value,
        sum(returned_value) as returned_value,
        -- where the customer last bought: the country of the latest purchase lines (by
        -- invoice time; at the same minute the later invoice id, then the larger country)
        arg_max(country, (invoiced_at, invoice_id, country)) filter (where is_purchase)
            as last_purchase_country
    from days
    group by customer_id
)

select
    order_stats.*,
    coalesce(day_stats.purchase_days, 0) as purchase_days,
    day_stats.first_day_purchase_value,
    coalesce(day_stats.gap_square_sum, 0) as gap_square_sum
from order_stats
left join day_stats on order_stats.customer_id = day_stats.customer_id;

-- A customer's orders among the lines of a window [start_date, end_date): purchase orders
-- (invoices with a purchase line), their purchase value and the net revenue (returns
-- deducted). Name the lines' relation (staging.stg_transactions): a macro is bound when
-- created, before the staging tables exist. Defined once: what a backtest measures after its
-- cutoff and the trailing revenue of the segment KPIs count orders alike.
create or replace macro customer_window_orders(staged_lines, start_date, end_date) as table
with

lines as (
    select
        customer_id,
        invoice_id,
        line_revenue,
        is_return_line(is_cancellation, quantity) as is_return_line
    from query_table(staged_lines)
    where invoiced_at >= start_date and invoiced_at < end_date
        and customer_id is not null
),

orders as (
    select
        customer_id,
        invoice_id,
        bool_or(not is_return_line) as is_purchase,
        coalesce(sum(line_revenue) filter (where not is_return_line), 0) as purchase_value,
        sum(line_revenue) as net_revenue
    from lines
    group by customer_id, invoice_id
)

select
    customer_id,
    count(*) filter (where is_purchase) as purchases,
    coalesce(sum(purchase_value) filter (where is_purchase), 0) as purchase_value,
    sum(net_revenue) as net_revenue
from orders
group by customer_id;

-- The customer bucket of scale-out (SEGMENTS_PARTITIONS > 1): the first 8 hex digits of the
-- MD5 of the pseudonymous customer_id as an unsigned integer, modulo the bucket count. MD5 is
-- the same in every process, version and language (Python: int(md5(id).hexdigest()[:8], 16)
-- % partitions), unlike a salted or engine-internal hash; a customer's rows all share a
-- bucket, so every per-customer feature is computed inside one bucket.
create or replace macro customer_bucket(customer_id, partitions) as
    cast(cast('0x' || left(md5(customer_id), 8) as ubigint) % partitions as integer);

-- A customer's draw for the training sample (SEGMENTS_TRAIN_ROWS, segments/lifecycle/
-- sample.py): uniform in [0, 1) from the MD5 of the seed and the customer_id, so the sample
-- depends on the customer alone, never on its bucket or on how many buckets there are.
create or replace macro training_draw(customer_id, seed) as
    cast(cast('0x' || left(md5(cast(seed as varchar) || ':' || customer_id), 8) as ubigint)
        as double) / 4294967296.0;
