{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('replace_keys'),
        unique_key='visitor_id',
        meta={'replace_keys': {'marker_column': 'activity_date', 'record_changed': ['activity_date']}},
        post_hook="{{ advance_cursor(['fct_sessions']) }}",
    )
}}

{#- The days each visitor was active, per platform and in total (platform 'all'): a day
    with at least one event of fct_events, the visitor as the identity map stands now
    (runaway devices left out). Kept by visitor (macros/incremental_changes.sql): a run
    recomputes the visitors active on a day rebuilt since its last run (before or after)
    and those whose sessions fct_sessions replaced since (an identity or runaway flag
    recomputed), and records the days of the rows that changed, for agg_active_users_daily. -#}

-- depends_on: {{ ref('int_days_rebuilt') }}
-- depends_on: {{ ref('fct_sessions') }}

with

{% if is_incremental() %}
rebuilt_days as (

    select rebuilt_date from {{ days_rebuilt_since_cursor() }}

),

changed_visitors as (

    select visitor_id from {{ this }} where activity_date in (select rebuilt_date from rebuilt_days)
    union
    select coalesce(identity_map.user_id, device_days.anonymous_id)
    from {{ ref('int_device_platform_days') }} as device_days
    left join {{ ref('int_anonymous_ids_mapped') }} as identity_map on device_days.anonymous_id = identity_map.anonymous_id
    where device_days.event_date in (select rebuilt_date from rebuilt_days)
    union
    select key_value from {{ replaced_since_cursor('fct_sessions', 'visitor_id') }}

),

touched_visitors as (

    select visitor_id from changed_visitors
    -- fct_sessions rebuilt from scratch: every visitor
    union
    {{ every_key_if_rebuilt('fct_sessions', 'visitor_id', [this]) }}
    union
    select coalesce(identity_map.user_id, device_days.anonymous_id)
    from {{ ref('int_device_platform_days') }} as device_days
    left join {{ ref('int_anonymous_ids_mapped') }} as identity_map on device_days.anonymous_id = identity_map.anonymous_id
    where {{ replaced_whole_since_cursor('fct_sessions') }}

),

touched_devices as (

    select anonymous_id from {{ ref('int_anonymous_ids_mapped') }} where user_id in (select visitor_id from touched_visitors)
    union
    select visitor_id from touched_visitors

),
{% endif %}

device_days as (

    select * from {{ ref('int_device_platform_days') }}
    {{ without_runaway_devices() }}
    {% if is_incremental() -%}
    and anonymous_id in (select anonymous_id from touched_devices)
    {%- endif %}

),

attributed as (

    {{ with_visitor('device_days') }}

),

active_days as (

    select visitor_id, platform, event_date as activity_date from attributed
    union
    select visitor_id, 'all' as platform, event_date as activity_date from attributed

),

final as (

    select
        visitor_id,
        platform,
        activity_date,
        activity_date = min(activity_date) over (partition by visitor_id, platform) as is_first_activity
    from active_days
    {% if is_incremental() -%}
    where visitor_id in (select visitor_id from touched_visitors)
    {%- endif %}

)

{% if is_incremental() %}
-- a marker per touched visitor: its rows are replaced even when it has none left
{{ with_markers('final', 'visitor_id', 'touched_visitors') }}
{% else %}
select * from final
{% endif %}
