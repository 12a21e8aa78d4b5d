{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        begin=var('start_date'),
        event_time='session_start_at',
        partition_by=day_partition('session_date'),
        tags=['daily'],
    )
}}

{%- set key_events = [
    'app_opened', 'signed_up', 'logged_in', 'game_started', 'game_ended', 'result_shared', 'invite_sent',
    'post_created', 'post_viewed', 'post_liked', 'product_viewed', 'product_added', 'checkout_started',
    'order_completed',
] -%}

{#- One row per device session; the batch's sessions only (the ref is filtered to them). -#}

with

events as (

    select * from {{ ref('int_events_sessionized') }}

),

page_views as (

    select
        session_id,
        page_name,
        cast(row_number() over (partition by session_id order by event_number_in_session) as bigint) as page_number,
        cast(row_number() over (partition by session_id order by event_number_in_session desc) as bigint) as reverse_page_number
    from events
    where is_page_view

),

first_touch as (

    select
        session_id,
        utm_source,
        utm_medium,
        utm_campaign,
        cast(row_number() over (partition by session_id order by event_number_in_session) as bigint) as touch_number
    from events
    where utm_source is not null or utm_medium is not null or utm_campaign is not null

),

aggregated as (

    select
        session_id,
        min(anonymous_id) as anonymous_id,
        min(case when event_number_in_session = 1 then platform end) as platform,
        count(*) as event_count,
        count(distinct event_name) as distinct_event_count,
        sum(case when is_page_view then 1 else 0 end) as page_view_count,
        {%- for event in key_events %}
        sum(case when event_name = '{{ event }}' then 1 else 0 end) as {{ event }}_count,
        {%- endfor %}
        min(session_start_at) as session_start_at,
        max(event_at) as session_end_at
    from events
    group by session_id

),

final as (

    select
        -- ids
        aggregated.session_id,
        aggregated.anonymous_id,

        -- attributes
        aggregated.platform,
        entry.page_name as entry_page,
        exit.page_name as exit_page,
        first_touch.utm_source,
        first_touch.utm_medium,
        first_touch.utm_campaign,

        -- measures
        {{ elapsed_microseconds('aggregated.session_start_at', 'aggregated.session_end_at') }} / 1e6 as duration_seconds,
        aggregated.event_count,
        aggregated.distinct_event_count,
        aggregated.page_view_count,
        {%- for event in key_events %}
        aggregated.{{ event }}_count,
        {%- endfor %}

        -- timestamps
        aggregated.session_start_at,
        aggregated.session_end_at,
        cast(aggregated.session_start_at as date) as session_date

    from aggregated
    left join page_views as entry
        on aggregated.session_id = entry.session_id and entry.page_number = 1
    left join page_views as exit
        on aggregated.session_id = exit.session_id and exit.reverse_page_number = 1
    left join first_touch
        on aggregated.session_id = first_touch.session_id and first_touch.touch_number = 1

)

select * from final
