{{ config(materialized='table') }}

{#- Devices whose activity no person produces (docs/sessions.md, "Runaway devices"):
    a session of at least `runaway_session_hours` (a run of activity long enough to be
    cut at the maximum length comes close to it), or more than
    `runaway_events_per_day` events on one day. -#}

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

flags as (

    select * from long_sessions
    union all
    select * from busy_days

),

final as (

    select
        anonymous_id,
        min(flagged_date) as first_flagged_date,
        max(flagged_date) as last_flagged_date,
        count(distinct flagged_date) as flagged_days,
        count(case when reason = 'long_session' then 1 end) as long_sessions,
        count(distinct case when reason = 'events_per_day' then flagged_date end) as busy_days
    from flags
    group by anonymous_id

)

select * from final
