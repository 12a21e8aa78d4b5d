{{ config(materialized='table') }}

{#- Every identified anonymous id and the user it belongs to: the user it was
    last seen with wins, so a later identify re-attributes earlier activity. -#}

with

links as (

    select * from {{ ref('int_anonymous_ids_linked') }}

),

per_user as (

    select
        anonymous_id,
        user_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from links
    group by anonymous_id, user_id

),

ranked as (

    select
        *,
        row_number() over (partition by anonymous_id order by last_seen_at desc, user_id desc) as recency_rank,
        count(*) over (partition by anonymous_id) as user_count,
        min(first_seen_at) over (partition by anonymous_id) as first_identified_at
    from per_user

),

final as (

    select
        anonymous_id,
        user_id,
        user_count,
        first_identified_at,
        last_seen_at as last_identified_at
    from ranked
    where recency_rank = 1

)

select * from final
