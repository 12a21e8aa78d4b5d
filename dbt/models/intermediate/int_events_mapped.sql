{{ config(materialized='view') }}

{#- Events with the visitor they belong to (the identified user, else the
    device) and the idle time since that visitor's previous event, on any device. -#}

with

events as (

    select * from {{ ref('stg_app__events') }}

),

identity_map as (

    select * from {{ ref('int_identity_map') }}

),

mapped as (

    select
        events.event_id,
        events.anonymous_id,
        identity_map.user_id,
        coalesce(identity_map.user_id, events.anonymous_id) as visitor_id,
        events.event_name,
        events.event_at,
        events.event_date
    from events
    left join identity_map on events.anonymous_id = identity_map.anonymous_id

),

final as (

    select
        *,
        {{ elapsed_microseconds(
            'lag(event_at) over (partition by visitor_id order by event_at, event_id)', 'event_at'
        ) }} / 1000000.0 as idle_seconds
    from mapped

)

select * from final
