{{ config(materialized='view') }}

{#- Every event with its session and the visitor the identity map resolves it
    to now: a view, so a later identify re-attributes old events at once. -#}

with

sessionized as (

    select * from {{ ref('int_events_sessionized') }}
    {{ without_runaway_devices() }}

),

events as (

    {{ with_visitor('sessionized') }}

),

final as (

    select
        -- ids
        events.event_id,
        events.session_id,
        events.anonymous_id,
        events.identified_user_id as user_id,
        events.visitor_id,
        events.user_id as sent_user_id,

        -- attributes
        events.event_number_in_session,
        events.event_name,
        events.is_page_view,
        events.page_name,
        events.page_path,
        events.platform,
        events.utm_source,
        events.utm_medium,
        events.utm_campaign,
        events.game_id,
        events.share_id,
        events.invite_id,
        events.referrer_user_id,
        events.post_id,
        events.product_id,
        events.order_id,
        events.revenue,

        -- measures
        events.seconds_since_previous_event,

        -- timestamps
        events.event_at,
        events.event_date,
        events.session_start_at,
        events.received_at

    from events

)

select * from final
