{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('delete+insert'),
        unique_key='anonymous_id',
        tags=['daily'],
    )
}}

{#- Per device, its first event, first campaign touch and first game. Incremental: a run
    reads only the days of its window (the event-time flags, see run_window) and merges them into
    each active device's previous values, keeping whichever came first; a full refresh
    reads everything. `refreshed_at` marks the rows a run touched. -#}

with

events as (

    select anonymous_id, event_id, event_name, platform, utm_source, utm_medium, utm_campaign, game_id, event_at
    from {{ ref('stg_app__events') }}
    {% if is_incremental() -%}
    where {{ in_run_window('event_date') }}
    {%- endif %}

),

ranked as (

    select
        *,
        row_number() over (partition by anonymous_id order by event_at, event_id) as event_rank,
        row_number() over (
            partition by anonymous_id, case when utm_source is not null or utm_medium is not null or utm_campaign is not null then 1 else 0 end
            order by event_at, event_id
        ) as touch_rank,
        row_number() over (
            partition by anonymous_id, case when event_name = 'game_started' then 1 else 0 end order by event_at, event_id
        ) as game_rank
    from events

),

window_values as (

    select
        anonymous_id,
        max(case when event_rank = 1 then event_at end) as first_seen_at,
        max(case when event_rank = 1 then event_id end) as first_event_id,
        max(case when event_rank = 1 then platform end) as first_platform,
        max(case when touch_rank = 1 and (utm_source is not null or utm_medium is not null or utm_campaign is not null) then event_at end) as first_touch_at,
        max(case when touch_rank = 1 and (utm_source is not null or utm_medium is not null or utm_campaign is not null) then event_id end) as first_touch_event_id,
        max(case when touch_rank = 1 and (utm_source is not null or utm_medium is not null or utm_campaign is not null) then utm_source end) as utm_source,
        max(case when touch_rank = 1 and (utm_source is not null or utm_medium is not null or utm_campaign is not null) then utm_medium end) as utm_medium,
        max(case when touch_rank = 1 and (utm_source is not null or utm_medium is not null or utm_campaign is not null) then utm_campaign end) as utm_campaign,
        max(case when game_rank = 1 and event_name = 'game_started' then event_at end) as first_game_at,
        max(case when game_rank = 1 and event_name = 'game_started' then event_id end) as first_game_event_id,
        max(case when game_rank = 1 and event_name = 'game_started' then game_id end) as first_game_id
    from ranked
    group by anonymous_id

),

{% if is_incremental() %}
merged as (

    select
        new.anonymous_id,
        {%- set new_seen = "(old.first_seen_at is null or new.first_seen_at < old.first_seen_at or (new.first_seen_at = old.first_seen_at and new.first_event_id < old.first_event_id))" %}
        {%- set new_touch = "(new.first_touch_at is not null and (old.first_touch_at is null or new.first_touch_at < old.first_touch_at or (new.first_touch_at = old.first_touch_at and new.first_touch_event_id < old.first_touch_event_id)))" %}
        {%- set new_game = "(new.first_game_at is not null and (old.first_game_at is null or new.first_game_at < old.first_game_at or (new.first_game_at = old.first_game_at and new.first_game_event_id < old.first_game_event_id)))" %}
        {%- for column in ['first_seen_at', 'first_event_id', 'first_platform'] %}
        case when {{ new_seen }} then new.{{ column }} else old.{{ column }} end as {{ column }},
        {%- endfor %}
        {%- for column in ['first_touch_at', 'first_touch_event_id', 'utm_source', 'utm_medium', 'utm_campaign'] %}
        case when {{ new_touch }} then new.{{ column }} else old.{{ column }} end as {{ column }},
        {%- endfor %}
        {%- for column in ['first_game_at', 'first_game_event_id', 'first_game_id'] %}
        case when {{ new_game }} then new.{{ column }} else old.{{ column }} end as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from window_values as new
    left join {{ this }} as old on new.anonymous_id = old.anonymous_id

),
{% else %}
merged as (

    select * from window_values

),
{% endif %}

final as (

    select *, cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }}) as refreshed_at
    from merged

)

select * from final
