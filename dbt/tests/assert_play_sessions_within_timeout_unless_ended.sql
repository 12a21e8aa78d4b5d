{{ config(meta={'dagster': {'ref': {'name': 'fct_play_sessions'}}}) }}
-- Fails with play sessions closed by the timeout that last longer than the timeout,
-- and with any play session whose end is before its start.
select *
from {{ ref('fct_play_sessions') }}
where ended_at < started_at
    or (is_closed_by_timeout and duration_seconds > {{ var('play_session_timeout_minutes') }} * 60)
