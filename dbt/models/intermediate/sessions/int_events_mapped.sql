{{ config(materialized='view') }}

{#- Events with the visitor they belong to (the identified user, else the
    device) and the idle time since that visitor's previous event, on any device. -#}

with

events as (

    select event_id, anonymous_id, event_name, event_at, event_date from {{ ref('stg_app__events') }}

),

mapped as (

    {{ with_visitor('events', user_id_as='user_id') }}

),

final as (

    select
        *,
        {{ elapsed_microseconds(
            'lag(event_at) over (partition by visitor_id order by event_at, event_id)', 'event_at'
        ) }} / 1e6 as idle_seconds
    from mapped

)

select * from final
