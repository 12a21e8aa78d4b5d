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

{#- Per device and event day: events, and posts viewed and liked. -#}

select
    anonymous_id,
    event_date,
    count(*) as event_count,
    count(distinct case when event_name = 'post_viewed' then post_id end) as posts_viewed,
    count(distinct case when event_name = 'post_liked' then post_id end) as posts_liked
from {{ ref('stg_app__events') }}
where {{ in_batch_window('event_date') }}
group by anonymous_id, event_date
