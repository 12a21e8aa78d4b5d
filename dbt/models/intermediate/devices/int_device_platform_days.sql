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

{#- Per device, event day and platform: the events. Activity (int_visitor_active_days)
    reads these instead of the events; an event without a platform counts as 'unknown'. -#}

select
    anonymous_id,
    event_date,
    coalesce(platform, 'unknown') as platform,
    count(*) as event_count
from {{ ref('stg_app__events') }}
where {{ in_batch_window('event_date') }}
group by all
