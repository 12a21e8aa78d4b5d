{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('replace_keys'),
        unique_key='visitor_id',
        meta={'replace_keys': {'marker_column': 'session_id', 'record_replaced': ['visitor_id']}},
        post_hook="{{ advance_cursor(['int_anonymous_ids_mapped', 'int_devices_flagged_runaway']) }}",
    )
}}

{#- Device sessions attributed to visitors, from int_sessions_aggregated (one row per
    session, not per event), so that attribution and numbering follow the identity map as
    it stands now. Kept by visitor (macros/incremental_changes.sql): a run takes the
    devices with a session on a day rebuilt since its last run (before or after), whose
    identity or runaway flag was recomputed since, and renumbers every session of each
    visitor such a device belonged to or belongs to now. -#}

-- depends_on: {{ ref('int_days_rebuilt') }}

with

{% if is_incremental() %}
rebuilt_days as (

    select rebuilt_date from {{ days_rebuilt_since_cursor() }}

),

changed_devices as (

    select anonymous_id from {{ ref('int_sessions_aggregated') }} where session_date in (select rebuilt_date from rebuilt_days)
    union
    select anonymous_id from {{ this }} where session_date in (select rebuilt_date from rebuilt_days)
    union
    select key_value from {{ replaced_since_cursor('int_anonymous_ids_mapped', 'anonymous_id') }}
    union
    select key_value from {{ replaced_since_cursor('int_devices_flagged_runaway', 'anonymous_id') }}
    -- either rebuilt from scratch: every device
    union
    {{ every_key_if_rebuilt(['int_anonymous_ids_mapped', 'int_devices_flagged_runaway'], 'anonymous_id', [this, ref('int_sessions_aggregated')]) }}

),

touched_visitors as (

    select visitor_id from {{ this }} where anonymous_id in (select anonymous_id from changed_devices)
    union
    select coalesce(identity_map.user_id, changed_devices.anonymous_id)
    from changed_devices
    left join {{ ref('int_anonymous_ids_mapped') }} as identity_map on changed_devices.anonymous_id = identity_map.anonymous_id

),

touched_devices as (

    select anonymous_id from {{ ref('int_anonymous_ids_mapped') }} where user_id in (select visitor_id from touched_visitors)
    union
    select visitor_id from touched_visitors

),
{% endif %}

sessions as (

    select * from {{ ref('int_sessions_aggregated') }}
    {{ without_runaway_devices() }}
    {% if is_incremental() -%}
    and anonymous_id in (select anonymous_id from touched_devices)
    {%- endif %}

),

attributed as (

    {{ with_visitor('sessions', user_id_as='user_id') }}

),

final as (

    select
        -- ids
        session_id,
        anonymous_id,
        visitor_id,
        user_id,

        -- attributes
        cast(row_number() over (partition by visitor_id order by session_start_at, session_id) as bigint) as session_number,
        platform,
        entry_page,
        exit_page,
        utm_source,
        utm_medium,
        utm_campaign,

        -- measures
        duration_seconds,
        event_count,
        distinct_event_count,
        page_view_count,
        app_opened_count,
        signed_up_count,
        logged_in_count,
        game_started_count,
        game_ended_count,
        result_shared_count,
        invite_sent_count,
        post_created_count,
        post_viewed_count,
        post_liked_count,
        product_viewed_count,
        product_added_count,
        checkout_started_count,
        order_completed_count,

        -- timestamps
        session_start_at,
        session_end_at,
        lead(session_start_at) over (partition by visitor_id order by session_start_at, session_id) as next_session_start_at,
        session_date

    from attributed
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
