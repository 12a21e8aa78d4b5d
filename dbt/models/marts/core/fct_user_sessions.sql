with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

final as (

    select
        visitor_id,
        max(user_id) as user_id,
        min(session_date) as first_session_date,
        max(session_date) as last_session_date,
        count(*) as session_count,
        avg(duration_seconds) as avg_session_duration_seconds,
        sum(event_count) as event_count
    from sessions
    group by visitor_id

)

select * from final
