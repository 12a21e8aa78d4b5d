{{ config(materialized='view') }}

{#- Play sessions with the visitor they belong to (docs/funnels.md). -#}

select
    play_sessions.play_session_id,
    play_sessions.anonymous_id,
    identity_map.user_id,
    coalesce(identity_map.user_id, play_sessions.anonymous_id) as visitor_id,
    play_sessions.game_id,
    play_sessions.game_mode,
    play_sessions.platform,
    play_sessions.score,
    play_sessions.reported_duration_seconds,
    play_sessions.duration_seconds,
    play_sessions.is_closed_by_timeout,
    play_sessions.started_at,
    play_sessions.ended_at
from {{ ref('int_play_sessions') }} as play_sessions
left join {{ ref('int_identity_map') }} as identity_map
    on play_sessions.anonymous_id = identity_map.anonymous_id
