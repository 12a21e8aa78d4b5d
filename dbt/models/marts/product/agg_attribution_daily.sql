{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('replace_keys'),
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
        {{ ordered_sum('first_touch_credit', 'conversion_event_id, session_id') }} as first_touch_conversions,
        {{ ordered_sum('last_touch_credit', 'conversion_event_id, session_id') }} as last_touch_conversions,
        {{ ordered_sum('linear_credit', 'conversion_event_id, session_id') }} as linear_conversions,
        {{ ordered_sum('position_based_credit', 'conversion_event_id, session_id') }} as position_based_conversions,
        {{ ordered_sum('time_decay_credit', 'conversion_event_id, session_id') }} as time_decay_conversions,
        {{ ordered_sum('first_touch_revenue', 'conversion_event_id, session_id') }} as first_touch_revenue,
        {{ ordered_sum('last_touch_revenue', 'conversion_event_id, session_id') }} as last_touch_revenue,
        {{ ordered_sum('linear_revenue', 'conversion_event_id, session_id') }} as linear_revenue,
        {{ ordered_sum('position_based_revenue', 'conversion_event_id, session_id') }} as position_based_revenue,
        {{ ordered_sum('time_decay_revenue', 'conversion_event_id, session_id') }} as time_decay_revenue
    from touches
    group by conversion_date, channel

)

{% if is_incremental() %}
-- a marker per touched day: its rows go when it has none left
{{ with_markers('final', 'conversion_date', 'touched_days') }}
{% else %}
select * from final
{% endif %}
