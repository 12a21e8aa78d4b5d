{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key='conversion_date',
        meta={'replace_keys': {'marker_column': 'channel'}},
        post_hook="{{ advance_cursor(['fct_conversion_attribution']) }}",
    )
}}

{#- Conversions and revenue credited to each channel per conversion day, by each
    attribution model (docs/metrics.md). Kept by day (macros/incremental_changes.sql): a
    run recounts the days of the conversions fct_conversion_attribution replaced since its
    last run. -#}

-- depends_on: {{ ref('int_days_rebuilt') }}

with

{% if is_incremental() %}
touched_days as (

    select cast(key_value as date) as conversion_date
    from {{ replaced_since_cursor('fct_conversion_attribution', 'conversion_date') }} as changed (key_value)
    -- fct_conversion_attribution rebuilt from scratch: every day
    union
    {{ every_key_if_rebuilt('fct_conversion_attribution', 'conversion_date', [this, ref('fct_conversion_attribution')]) }}

),
{% endif %}

touches as (

    select * from {{ ref('fct_conversion_attribution') }}
    {% if is_incremental() -%}
    where conversion_date in (select conversion_date from touched_days)
    {%- endif %}

),

-- Sums of doubles in one order (by conversion and touch), so that a day recounted alone
-- gives the same figures as a build of every day.
final as (

    select
        conversion_date,
        channel,
        count(*) as touches,
        count(distinct conversion_event_id) as touched_conversions,
        sum(first_touch_credit order by conversion_event_id, session_id) as first_touch_conversions,
        sum(last_touch_credit order by conversion_event_id, session_id) as last_touch_conversions,
        sum(linear_credit order by conversion_event_id, session_id) as linear_conversions,
        sum(position_based_credit order by conversion_event_id, session_id) as position_based_conversions,
        sum(time_decay_credit order by conversion_event_id, session_id) as time_decay_conversions,
        sum(first_touch_revenue order by conversion_event_id, session_id) as first_touch_revenue,
        sum(last_touch_revenue order by conversion_event_id, session_id) as last_touch_revenue,
        sum(linear_revenue order by conversion_event_id, session_id) as linear_revenue,
        sum(position_based_revenue order by conversion_event_id, session_id) as position_based_revenue,
        sum(time_decay_revenue order by conversion_event_id, session_id) as time_decay_revenue
    from touches
    group by conversion_date, channel

)

{% if is_incremental() %}
select * from final
union all by name
-- a marker per touched day: its rows go when it has none left
select conversion_date from touched_days
{% else %}
select * from final
{% endif %}
