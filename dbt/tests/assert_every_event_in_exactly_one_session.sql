{{ config(meta={'dagster': {'ref': {'name': 'int_events_sessionized'}}}) }}
-- Fails with the deduplicated events that have no session, or more than one, within
-- the days processed so far (events of the first processed day may belong to a
-- session that started the day before). The daily run checks the days of its window:
-- their events, against the sessions that can hold them (started up to the margin before).
with processed as (
    select min(session_date) + 1 as first_day, max(session_date) as last_day
    from {{ ref('int_sessions_aggregated') }}
),

events as (
    select events.event_id
    from {{ ref('stg_app__events') }} as events
    cross join processed
    where
        events.event_date between processed.first_day and processed.last_day
        and {{ in_run_window('events.event_date') }}
),

sessionized as (
    select event_id, count(*) as sessions
    from {{ ref('int_events_sessionized') }}
    where {{ in_window(run_window(), 'session_start_at', days_before=partition_margin_days()) }}
    group by event_id
)

select events.event_id, coalesce(sessionized.sessions, 0) as sessions
from events
left join sessionized on events.event_id = sessionized.event_id
where coalesce(sessionized.sessions, 0) != 1
