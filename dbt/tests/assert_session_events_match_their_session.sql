{{ config(meta={"dagster": {"ref": {"name": "fct_sessions"}}}) }}
-- Fails with the sessions whose event count, start or end disagree with their events.
with from_events as (
    select session_id, count(*) as event_count, min(event_at) as first_event_at, max(event_at) as last_event_at
    from {{ ref('fct_events') }}
    group by session_id
)

select sessions.session_id
from {{ ref('fct_sessions') }} as sessions
left join from_events on sessions.session_id = from_events.session_id
where from_events.session_id is null
    or sessions.event_count != from_events.event_count
    or sessions.session_start_at != from_events.first_event_at
    or sessions.session_end_at != from_events.last_event_at
