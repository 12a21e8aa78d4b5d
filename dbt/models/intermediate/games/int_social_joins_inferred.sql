{{ config(materialized='table') }}

{#- Every join of a social instance (docs/funnels.md, social sessions). A share
    (result_shared) or an invite (invite_sent) is an instance; a shared_link_opened or
    invite_accepted joins one: by its share or invite id when it carries one, otherwise
    the latest instance of the same kind and game that the referring user created at most
    `social_join_window_minutes` before the join. -#}

with

events as (

    select * from {{ ref('stg_app__events') }}
    where event_name in ('result_shared', 'invite_sent', 'shared_link_opened', 'invite_accepted')

),

instances as (

    select
        coalesce(share_id, invite_id) as instance_id,
        case when event_name = 'invite_sent' then 'invite' else 'share' end as kind,
        user_id as creator_user_id,
        game_id,
        event_at as created_at
    from events
    where event_name in ('result_shared', 'invite_sent') and coalesce(share_id, invite_id) is not null

),

joins as (

    select
        event_id as join_event_id,
        anonymous_id,
        case when event_name = 'invite_accepted' then 'invite' else 'share' end as kind,
        case when event_name = 'invite_accepted' then invite_id else share_id end as claimed_instance_id,
        referrer_user_id,
        game_id,
        event_at as joined_at
    from events
    where event_name in ('shared_link_opened', 'invite_accepted')

),

by_id as (

    select joins.join_event_id, joins.anonymous_id, joins.joined_at, instances.instance_id, 'id' as matched_by
    from joins
    inner join instances on joins.claimed_instance_id = instances.instance_id

),

inferred as (

    select
        joins.join_event_id,
        joins.anonymous_id,
        joins.joined_at,
        instances.instance_id,
        'inferred' as matched_by,
        row_number() over (partition by joins.join_event_id order by instances.created_at desc, instances.instance_id) as candidate_rank
    from joins
    inner join instances
        on joins.claimed_instance_id is null
            and instances.kind = joins.kind
            and instances.game_id = joins.game_id
            and (joins.referrer_user_id is null or instances.creator_user_id = joins.referrer_user_id)
            and instances.created_at <= joins.joined_at
            and joins.joined_at <= {{ dbt.dateadd('minute', var('social_join_window_minutes'), 'instances.created_at') }}

),

final as (

    select join_event_id, anonymous_id, instance_id, matched_by, joined_at from by_id
    union all
    select join_event_id, anonymous_id, instance_id, matched_by, joined_at from inferred where candidate_rank = 1

)

select * from final
