{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        begin=var('start_date'),
        event_time='event_date',
        partition_by=day_partition('event_date'),
        tags=['daily'],
    )
}}

{#- Which user each anonymous id was seen with, per day: from identify calls and
    from any message carrying both ids. Small, so the identity map can be
    rebuilt from it without scanning the events. -#}

with

identified as (

    select anonymous_id, user_id, identified_at as seen_at, event_date
    from {{ ref('stg_app__identifies') }}
    where {{ in_batch_window('event_date') }} and user_id is not null

    union all

    select anonymous_id, user_id, event_at as seen_at, event_date
    from {{ ref('stg_app__events') }}
    where {{ in_batch_window('event_date') }} and user_id is not null

),

final as (

    select
        anonymous_id,
        user_id,
        count(*) as message_count,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        event_date
    from identified
    group by anonymous_id, user_id, event_date

)

select * from final
