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

{#- Per post and event day: views, likes, and the share of the day's viewing devices
    that also liked it. -#}

with

events as (

    select post_id, anonymous_id, event_name, event_date
    from {{ ref('stg_app__events') }}
    where {{ in_batch_window('event_date') }}
        and event_name in ('post_viewed', 'post_liked')
        and post_id is not null

),

per_device as (

    select
        post_id,
        event_date,
        anonymous_id,
        sum(case when event_name = 'post_viewed' then 1 else 0 end) as views,
        sum(case when event_name = 'post_liked' then 1 else 0 end) as likes
    from events
    group by post_id, event_date, anonymous_id

),

final as (

    select
        post_id,
        event_date,
        sum(views) as views,
        sum(likes) as likes,
        sum(case when views > 0 then 1 else 0 end) as viewers,
        sum(case when views > 0 and likes > 0 then 1 else 0 end) as viewers_who_liked,
        case
            when sum(case when views > 0 then 1 else 0 end) = 0 then null
            else cast(sum(case when views > 0 and likes > 0 then 1 else 0 end) as double)
                / sum(case when views > 0 then 1 else 0 end)
        end as like_ratio
    from per_device
    group by post_id, event_date

)

select * from final
