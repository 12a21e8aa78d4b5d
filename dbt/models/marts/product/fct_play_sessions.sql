{{ config(materialized='view') }}

{#- Play sessions with the visitor they belong to (docs/funnels.md). -#}

with

play_sessions as (

    {{ with_visitor(ref('int_play_sessions_paired'), user_id_as='user_id') }}

)

select
    play_sessions.play_session_id,
    play_sessions.anonymous_id,
    play_sessions.user_id,
    play_sessions.visitor_id,
    play_sessions.game_id,
    play_sessions.game_mode,
    play_sessions.platform,
    play_sessions.score,
    play_sessions.reported_duration_seconds,
    play_sessions.duration_seconds,
    play_sessions.is_closed_by_timeout,
    play_sessions.started_at,
    play_sessions.ended_at
from play_sessions
