{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('delete+insert'),
        unique_key='user_id',
    )
}}

{#- Per signed-up user, the first values at acquisition (docs/funnels.md): first seen at,
    sign-up time, first platform, first game, first-touch campaign, and the country the
    user had at sign-up (the first version of the user's history). Incremental: a run
    recomputes only the users owning a device that the latest daily run touched, from
    their devices' first values, never from the events. -#}

with

identity_map as (

    select * from {{ ref('int_anonymous_ids_mapped') }}

),

{% if is_incremental() %}
touched_users as (

    select distinct identity_map.user_id
    from {{ ref('int_devices_attributed') }} as devices
    inner join identity_map on devices.anonymous_id = identity_map.anonymous_id
    where devices.refreshed_at > (select coalesce(max(source_refreshed_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }})

),
{% endif %}

devices as (

    select devices.*, identity_map.user_id
    from {{ ref('int_devices_attributed') }} as devices
    inner join identity_map on devices.anonymous_id = identity_map.anonymous_id
    {% if is_incremental() -%}
    where identity_map.user_id in (select user_id from touched_users)
    {%- endif %}

),

ranked as (

    select
        *,
        row_number() over (partition by user_id order by first_seen_at, first_event_id) as seen_rank,
        row_number() over (
            partition by user_id order by case when first_touch_at is null then 1 else 0 end, first_touch_at, first_touch_event_id
        ) as touch_rank,
        row_number() over (
            partition by user_id order by case when first_game_at is null then 1 else 0 end, first_game_at, first_game_event_id
        ) as game_rank
    from devices

),

per_user as (

    select
        user_id,
        max(case when seen_rank = 1 then first_seen_at end) as first_seen_at,
        max(case when seen_rank = 1 then first_platform end) as first_platform,
        max(case when touch_rank = 1 then utm_source end) as first_utm_source,
        max(case when touch_rank = 1 then utm_medium end) as first_utm_medium,
        max(case when touch_rank = 1 then utm_campaign end) as first_utm_campaign,
        max(case when game_rank = 1 then first_game_id end) as first_game_id,
        max(case when game_rank = 1 then first_game_at end) as first_game_at,
        count(*) as device_count,
        max(refreshed_at) as source_refreshed_at
    from ranked
    group by user_id

),

signups as (

    select user_id, created_at as signed_up_at, country as country_at_signup
    from {{ ref('dim_users') }}
    where version_number = 1

),

final as (

    select
        per_user.user_id,
        per_user.first_platform,
        per_user.first_game_id,
        per_user.first_utm_source,
        per_user.first_utm_medium,
        per_user.first_utm_campaign,
        signups.country_at_signup,
        per_user.device_count,
        per_user.first_seen_at,
        signups.signed_up_at,
        cast(signups.signed_up_at as date) as signup_date,
        per_user.first_game_at,
        per_user.source_refreshed_at
    from per_user
    left join signups on per_user.user_id = signups.user_id

)

select * from final
