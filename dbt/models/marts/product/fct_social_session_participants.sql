{#- Who joined each social instance: one row per instance and visitor, at their first join. -#}

with

joins as (

    {{ with_visitor(ref('int_social_joins_inferred'), user_id_as='user_id') }}

),

first_joins as (

    select
        *,
        cast(row_number() over (partition by instance_id, visitor_id order by joined_at, join_event_id) as bigint) as join_number
    from joins

),

final as (

    select instance_id, visitor_id, user_id, anonymous_id, join_event_id, matched_by, joined_at
    from first_joins
    where join_number = 1

)

select * from final
