{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        begin=var('start_date'),
        event_time='session_start_at',
        partition_by=day_partition('session_date'),
        tags=['daily'],
    )
}}

{#- Each event and the next four events of its session (null past the end). -#}

with

events as (

    select * from {{ ref('int_events_sessionized') }}

),

final as (

    select
        event_id,
        session_id,
        event_number_in_session,
        event_name,
        lead(event_name, 1) over session_order as event_2,
        lead(event_name, 2) over session_order as event_3,
        lead(event_name, 3) over session_order as event_4,
        lead(event_name, 4) over session_order as event_5,
        session_start_at,
        session_date
    from events
    window session_order as (partition by session_id order by event_number_in_session)

)

select * from final
