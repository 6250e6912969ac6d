-- Grain: one segment of one campaign, as of this publish; key (campaign_id, segment_id).
-- Recipients are grouped by the segment they were in when the campaign was sent (their stay
-- in marts.segment_history that covers sent_at; null segment: not segmented yet). Only sends
-- and responses before $as_of count, so a backfill sees results grow as they did.
-- Uplift is treatment minus control: conversion with the Agresti-Caffo interval (one success
-- and one failure added to each group, good coverage at small counts and rates near 0),
-- revenue per recipient with a Welch normal interval; both null without a control group,
-- where the treatment rates are the plain rates of everyone sent.
with

recipients as (
    select *
    from staging.stg_campaigns
    where sent_at < cast($as_of as date)
    -- one row per recipient of a campaign: the first send
    qualify row_number() over (
        partition by campaign_id, customer_id order by sent_at, load_id, line_number
    ) = 1
),

assigned as (
    select
        recipients.campaign_id,
        recipients.channel,
        recipients.sent_at,
        coalesce(recipients.test_group, 'treatment') as test_group,
        history.segment_id,
        history.segment_name,
        -- a response counts once it has happened (before as_of)
        cast(coalesce(recipients.opened_at < cast($as_of as date), false) as double) as opened,
        cast(coalesce(recipients.clicked_at < cast($as_of as date), false) as double) as clicked,
        cast(coalesce(recipients.converted_at < cast($as_of as date), false) as double)
            as converted,
        case
            when recipients.converted_at < cast($as_of as date)
                then coalesce(recipients.revenue, 0.0)
            else 0.0
        end as revenue
    from recipients
    left join marts.segment_history as history
        on history.customer_id = recipients.customer_id
        and history.valid_from <= recipients.sent_at
        and (history.valid_to is null or history.valid_to > recipients.sent_at)
),

campaigns as (
    select
        campaign_id,
        mode(channel) as channel,
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at
    from assigned
    group by campaign_id
),

groups as (
    select
        campaign_id,
        segment_id,
        any_value(segment_name) as segment_name,
        test_group,
        count(*) as customers,
        avg(opened) as open_rate,
        avg(clicked) as click_rate,
        sum(converted) as conversions,
        avg(converted) as conversion_rate,
        avg(revenue) as revenue_per_customer,
        var_samp(revenue) as revenue_variance
    from assigned
    group by campaign_id, segment_id, test_group
),

paired as (
    select
        treatment.campaign_id,
        treatment.segment_id,
        treatment.segment_name,
        treatment.customers as treatment_customers,
        coalesce(control.customers, 0) as control_customers,
        treatment.open_rate as treatment_open_rate,
        treatment.click_rate as treatment_click_rate,
        treatment.conversion_rate as treatment_conversion_rate,
        control.conversion_rate as control_conversion_rate,
        treatment.revenue_per_customer as treatment_revenue_per_customer,
        control.revenue_per_customer as control_revenue_per_customer,
        -- Agresti-Caffo adjusted rates
        (treatment.conversions + 1) / (treatment.customers + 2) as treatment_adjusted,
        (control.conversions + 1) / (control.customers + 2) as control_adjusted,
        treatment.revenue_variance as treatment_revenue_variance,
        control.revenue_variance as control_revenue_variance
    from groups as treatment
    left join groups as control
        on control.campaign_id = treatment.campaign_id
        and control.segment_id is not distinct from treatment.segment_id
        and control.test_group = 'control'
    where treatment.test_group = 'treatment'
),

this_publish as (
    select any_value(model_version) as model_version from marts.customer_segments
),

final as (
    select
        cast($as_of as date) as as_of,
        cast($run_id as varchar) as run_id,
        -- lineage: the publish that computed these results (segments at send come from
        -- marts.segment_history, whichever model published them)
        this_publish.model_version,
        paired.campaign_id,
        campaigns.channel,
        campaigns.first_sent_at,
        campaigns.last_sent_at,
        paired.segment_id,
        coalesce(paired.segment_name, '(no segment at send)') as segment_name,
        paired.treatment_customers,
        paired.control_customers,
        paired.treatment_open_rate,
        paired.treatment_click_rate,
        paired.treatment_conversion_rate,
        paired.control_conversion_rate,
        paired.treatment_revenue_per_customer,
        paired.control_revenue_per_customer,
        paired.treatment_conversion_rate - paired.control_conversion_rate as conversion_uplift,
        (paired.treatment_adjusted - paired.control_adjusted) - cast($z as double) * sqrt(
            paired.treatment_adjusted * (1 - paired.treatment_adjusted)
            / (paired.treatment_customers + 2)
            + paired.control_adjusted * (1 - paired.control_adjusted)
            / (paired.control_customers + 2)
        ) as conversion_uplift_low,
        (paired.treatment_adjusted - paired.control_adjusted) + cast($z as double) * sqrt(
            paired.treatment_adjusted * (1 - paired.treatment_adjusted)
            / (paired.treatment_customers + 2)
            + paired.control_adjusted * (1 - paired.control_adjusted)
            / (paired.control_customers + 2)
        ) as conversion_uplift_high,
        paired.treatment_revenue_per_customer - paired.control_revenue_per_customer
            as revenue_uplift,
        (paired.treatment_revenue_per_customer - paired.control_revenue_per_customer)
        - cast($z as double) * sqrt(
            paired.treatment_revenue_variance / paired.treatment_customers
            + paired.control_revenue_variance / paired.control_customers
        ) as revenue_uplift_low,
        (paired.treatment_revenue_per_customer - paired.control_revenue_per_customer)
        + cast($z as double) * sqrt(
            paired.treatment_revenue_variance / paired.treatment_customers
            + paired.control_revenue_variance / paired.control_customers
        ) as revenue_uplift_high,
        cast($confidence as double) as confidence
    from paired
    inner join campaigns on campaigns.campaign_id = paired.campaign_id
    cross join this_publish
)

select * from final
order by campaign_id, segment_id nulls first
