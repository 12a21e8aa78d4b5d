{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('replace_keys'),
        unique_key='anonymous_id',
        meta={'replace_keys': {'marker_column': 'flagged_days', 'record_replaced': ['anonymous_id']}},
        post_hook="{{ advance_cursor() }}",
    )
}}

{#- Devices whose activity no person produces (docs/sessions.md, "Runaway devices"):
    a session of at least `runaway_session_hours` (a run of activity long enough to be
    cut at the maximum length comes close to it), or more than
    `runaway_events_per_day` events on one day.
    Kept by device (macros/incremental_changes.sql): a run recomputes the devices with a
    flagged session or day on a day rebuilt since its last run, and the flagged devices
    whose flagged days spanned such a day. -#}

-- depends_on: {{ ref('int_days_rebuilt') }}

with

long_sessions as (

    select
        anonymous_id,
        session_date as flagged_date,
        'long_session' as reason
    from {{ ref('int_sessions_aggregated') }}
    where duration_seconds >= {{ var('runaway_session_hours') }} * 3600

),

busy_days as (

    select
        anonymous_id,
        event_date as flagged_date,
        'events_per_day' as reason
    from {{ ref('int_device_days_aggregated') }}
    where event_count > {{ var('runaway_events_per_day') }}

),

all_flags as (

    select * from long_sessions
    union all
    select * from busy_days

),

{% if is_incremental() %}
rebuilt_days as (

    select rebuilt_date from {{ days_rebuilt_since_cursor() }}

),

candidates as (

    select distinct anonymous_id
    from all_flags
    where flagged_date in (select rebuilt_date from rebuilt_days)

    union

    select anonymous_id
    from {{ this }} as flagged
    where exists (
        select 1 from rebuilt_days where rebuilt_date between flagged.first_flagged_date and flagged.last_flagged_date
    )

),
{% endif %}

flags as (

    select * from all_flags
    {% if is_incremental() -%}
    where anonymous_id in (select anonymous_id from candidates)
    {%- endif %}

),

flagged as (

    select
        anonymous_id,
        min(flagged_date) as first_flagged_date,
        max(flagged_date) as last_flagged_date,
        count(distinct flagged_date) as flagged_days,
        count(case when reason = 'long_session' then 1 end) as long_sessions,
        count(distinct case when reason = 'events_per_day' then flagged_date end) as busy_days
    from flags
    group by anonymous_id

),

final as (

    select * from flagged
    {% if is_incremental() %}
    union all
    -- markers: candidates no longer flagged
    select anonymous_id, null, null, null, null, null
    from candidates
    where anonymous_id not in (select anonymous_id from flagged)
    {% endif %}

)

select * from final
