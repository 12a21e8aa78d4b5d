{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        begin=var('start_date'),
        event_time='started_at',
        partition_by=day_partition('started_date'),
        tags=['daily'],
    )
}}

{#- One row per game_started (docs/funnels.md, play sessions): it ends with the device's
    next game_ended of the same game, if that comes before the device starts another
    game and within `play_session_timeout_minutes`; otherwise it is closed by the
    timeout (or by the next start, if sooner). Partitioned by the day it started. -#}

with

game_events as (

    select event_id, anonymous_id, event_name, game_id, game_mode, score, game_duration_seconds, platform, event_at
    from {{ ref('stg_app__events') }}
    where {{ in_batch_window('event_date', days_after=partition_margin_days()) }}
        and event_name in ('game_started', 'game_ended')

),

ordered as (

    select
        *,
        -- the device's next start, of any game: a play session cannot run past it
        min(case when event_name = 'game_started' then event_at end) over (
            partition by anonymous_id order by event_at, event_id rows between 1 following and unbounded following
        ) as next_start_at
    from game_events

),

starts as (

    select * from ordered where event_name = 'game_started'

),

ends as (

    select
        starts.event_id as start_id,
        ends.event_at as ended_at,
        ends.score,
        ends.game_duration_seconds,
        row_number() over (partition by starts.event_id order by ends.event_at, ends.event_id) as end_rank
    from starts
    inner join game_events as ends
        on ends.anonymous_id = starts.anonymous_id
            and ends.event_name = 'game_ended'
            and ends.game_id = starts.game_id
            and ends.event_at >= starts.event_at
            and (starts.next_start_at is null or ends.event_at <= starts.next_start_at)
            and ends.event_at <= {{ dbt.dateadd('minute', var('play_session_timeout_minutes'), 'starts.event_at') }}

),

final as (

    select
        -- ids
        starts.event_id as play_session_id,
        starts.anonymous_id,

        -- attributes
        starts.game_id,
        starts.game_mode,
        starts.platform,
        ends.score,
        ends.game_duration_seconds as reported_duration_seconds,
        ends.start_id is null as is_closed_by_timeout,

        -- measures
        {{ elapsed_microseconds('starts.event_at', 'coalesce(ends.ended_at, least(' ~ dbt.dateadd('minute', var('play_session_timeout_minutes'), 'starts.event_at') ~ ', coalesce(starts.next_start_at, ' ~ dbt.dateadd('minute', var('play_session_timeout_minutes'), 'starts.event_at') ~ ')))') }}
        / 1e6 as duration_seconds,

        -- timestamps
        starts.event_at as started_at,
        coalesce(
            ends.ended_at,
            least(
                {{ dbt.dateadd('minute', var('play_session_timeout_minutes'), 'starts.event_at') }},
                coalesce(starts.next_start_at, {{ dbt.dateadd('minute', var('play_session_timeout_minutes'), 'starts.event_at') }})
            )
        ) as ended_at,
        cast(starts.event_at as date) as started_date

    from starts
    left join ends on starts.event_id = ends.start_id and ends.end_rank = 1

)

select * from final
where {{ in_batch_window('started_at') }}
