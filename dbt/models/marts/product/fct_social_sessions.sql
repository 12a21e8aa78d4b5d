{#- One row per social instance (a shared result or an invite): its creator, game,
    creation time and destination, who joined and how fast, and the games the joiners
    played within `social_followup_minutes` of joining. -#}

with

instances as (

    select
        coalesce(share_id, invite_id) as instance_id,
        case when event_name = 'invite_sent' then 'invite' else 'share' end as kind,
        user_id as creator_user_id,
        game_id,
        case when event_name = 'invite_sent' then 'direct' else share_destination end as destination,
        event_at as created_at
    from {{ ref('stg_app__events') }}
    where event_name in ('result_shared', 'invite_sent') and coalesce(share_id, invite_id) is not null

),

participants as (

    select * from {{ ref('fct_social_session_participants') }}

),

games_after_joining as (

    select participants.instance_id, count(*) as games_played
    from participants
    inner join {{ ref('stg_app__events') }} as games
        on games.anonymous_id = participants.anonymous_id
            and games.event_name = 'game_started'
            and games.event_at >= participants.joined_at
            and games.event_at <= {{ dbt.dateadd('minute', var('social_followup_minutes'), 'participants.joined_at') }}
    group by participants.instance_id

),

joined as (

    select
        instance_id,
        count(*) as participant_count,
        min(joined_at) as first_joined_at
    from participants
    group by instance_id

),

final as (

    select
        instances.instance_id,
        instances.kind,
        instances.creator_user_id,
        instances.game_id,
        instances.destination,
        coalesce(joined.participant_count, 0) as participant_count,
        {{ elapsed_microseconds('instances.created_at', 'joined.first_joined_at') }} / 1e6 as seconds_to_first_join,
        coalesce(games_after_joining.games_played, 0) as games_played_by_joiners,
        instances.created_at,
        joined.first_joined_at
    from instances
    left join joined on instances.instance_id = joined.instance_id
    left join games_after_joining on instances.instance_id = games_after_joining.instance_id

)

select * from final
