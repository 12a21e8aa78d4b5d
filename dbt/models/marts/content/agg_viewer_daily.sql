{#- Per visitor and day: sessions started, events, posts viewed and liked (summed over
    the visitor's devices). Rebuilt from per-device days so that a later identify
    re-attributes them. -#}

with

device_days as (

    select * from {{ ref('int_device_daily_activity') }}

),

device_sessions as (

    select anonymous_id, session_date as event_date, count(*) as sessions
    from {{ ref('int_sessions') }}
    group by anonymous_id, session_date

),

identity_map as (

    select * from {{ ref('int_identity_map') }}

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

final as (

    select
        coalesce(identity_map.user_id, combined.anonymous_id) as visitor_id,
        combined.event_date,
        sum(combined.sessions) as sessions,
        sum(combined.event_count) as event_count,
        sum(combined.posts_viewed) as posts_viewed,
        sum(combined.posts_liked) as posts_liked
    from combined
    left join identity_map on combined.anonymous_id = identity_map.anonymous_id
    group by 1, 2

)

select * from final
