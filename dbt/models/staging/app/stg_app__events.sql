with

source as (

    select * from {{ source('app', 'events') }}
    where type in ('track', 'page', 'screen')

),

renamed as (

    select
        -- ids
        message_id,
        anonymous_id,
        user_id,

        -- attributes
        type as message_type,
        case type
            when 'page' then 'page_viewed'
            when 'screen' then 'screen_viewed'
            else event
        end as event_name,
        name as page_name,
        context_platform as platform,
        context_app_version as app_version,
        context_locale as locale,
        context_country as country,
        context_campaign_source as utm_source,
        context_campaign_medium as utm_medium,
        context_campaign_name as utm_campaign,
        context_page_path as page_path,
        context_page_url as page_url,
        context_page_referrer as page_referrer,
        properties,

        -- timestamps
        "timestamp" as event_at,
        original_timestamp as device_event_at,
        sent_at as device_sent_at,
        received_at,
        event_date

    from source

)

select * from renamed
