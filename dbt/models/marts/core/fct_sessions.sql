{#- Device sessions attributed to visitors. Rebuilt from int_sessions_aggregated (one row
    per session, not per event) so that attribution and numbering follow the
    identity map as it stands now. -#}

with

sessions as (

    select * from {{ ref('int_sessions_aggregated') }}
    {{ without_runaway_devices() }}

),

attributed as (

    {{ with_visitor('sessions', user_id_as='user_id') }}

),

final as (

    select
        -- ids
        session_id,
        anonymous_id,
        visitor_id,
        user_id,

        -- attributes
        row_number() over (partition by visitor_id order by session_start_at, session_id) as session_number,
        platform,
        entry_page,
        exit_page,
        utm_source,
        utm_medium,
        utm_campaign,

        -- measures
        duration_seconds,
        event_count,
        distinct_event_count,
        page_view_count,
        app_opened_count,
        signed_up_count,
        logged_in_count,
        game_started_count,
        game_ended_count,
        result_shared_count,
        invite_sent_count,
        post_created_count,
        post_viewed_count,
        post_liked_count,
        product_viewed_count,
        product_added_count,
        checkout_started_count,
        order_completed_count,

        -- timestamps
        session_start_at,
        session_end_at,
        lead(session_start_at) over (partition by visitor_id order by session_start_at, session_id) as next_session_start_at,
        session_date

    from attributed

)

select * from final
