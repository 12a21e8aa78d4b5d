{#- Per visitor and day: sessions started, events, posts viewed and liked (summed over
    the visitor's devices). Rebuilt from per-device days so that a later identify
    re-attributes them. -#}

with

device_days as (

    select * from {{ ref('int_device_days_aggregated') }}

),

device_sessions as (

    select anonymous_id, session_date as event_date, count(*) as sessions
    from {{ ref('int_sessions_aggregated') }}
    group by anonymous_id, session_date

),

combined as (

    select
        coalesce(device_days.anonymous_id, device_sessions.anonymous_id) as anonymous_id,
        coalesce(device_days.event_date, device_sessions.event_date) as event_date,
        coalesce(device_sessions.sessions, 0) as sessions,
        coalesce(device_days.event_count, 0) as event_count,
        coalesce(device_days.posts_viewed, 0) as posts_viewed,
        coalesce(device_days.posts_liked, 0) as posts_liked
    from device_days
    full outer join device_sessions
        on device_days.anonymous_id = device_sessions.anonymous_id
            and device_days.event_date = device_sessions.event_date

),

with_visitor as (

    {{ with_visitor('combined') }}

),

final as (

    select
        visitor_id,
        event_date,
        sum(sessions) as sessions,
        sum(event_count) as event_count,
        sum(posts_viewed) as posts_viewed,
        sum(posts_liked) as posts_liked
    from with_visitor
    group by visitor_id, event_date

)

select * from final
