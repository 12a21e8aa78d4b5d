{#- Per creator and day: views and likes of all their posts, the share of viewing
    devices that liked, and whether the creator was active in the product that day. -#}

with

post_days as (

    select * from {{ ref('agg_post_daily') }}

),

posts as (

    select post_id, creator_user_id from {{ ref('dim_posts') }} where version_number = 1

),

active_days as (

    select distinct user_id, event_date from {{ ref('int_anonymous_ids_linked') }}

),

per_creator as (

    select
        posts.creator_user_id,
        post_days.event_date,
        count(*) as posts_viewed,
        sum(post_days.views) as total_views,
        sum(post_days.likes) as total_likes,
        sum(post_days.viewers) as viewers,
        sum(post_days.viewers_who_liked) as viewers_who_liked
    from post_days
    inner join posts on post_days.post_id = posts.post_id
    group by posts.creator_user_id, post_days.event_date

),

final as (

    select
        per_creator.creator_user_id,
        per_creator.event_date,
        per_creator.posts_viewed,
        per_creator.total_views,
        per_creator.total_likes,
        case when per_creator.viewers = 0 then null else cast(per_creator.viewers_who_liked as double) / per_creator.viewers end as like_ratio,
        active_days.user_id is not null as is_active
    from per_creator
    left join active_days
        on per_creator.creator_user_id = active_days.user_id
            and per_creator.event_date = active_days.event_date

)

select * from final
