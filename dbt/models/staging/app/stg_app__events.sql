with

source as (

    select * from {{ source('app', 'events') }}
    where type in ('track', 'page', 'screen')

),

-- Copies of a message id whose kept copy is on another day: bookkeeping the ingestion
-- of raw.events writes with each day (not a source of its own: it is part of that asset).
superseded as (

    select event_date, message_id
    from {{ api.Relation.create(schema='raw', identifier='superseded_events') }}

),

-- A message delivered twice keeps its earliest received copy, wherever it landed.
deduplicated as (

    select
        source.*,
        {{ delivery_number() }} as delivery_number
    from source
    where not exists (
            select 1 from superseded
            where superseded.event_date = source.event_date and superseded.message_id = source.message_id
        )

),

renamed as (

    select
        -- ids
        message_id as event_id,
        anonymous_id,
        user_id,

        -- attributes
        type as message_type,
        case type
            when 'page' then 'page_viewed'
            when 'screen' then 'screen_viewed'
            else event
        end as event_name,
        type in ('page', 'screen') as is_page_view,
        coalesce(name, context_page_path) as page_name,
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
        {{ json_text('properties', 'game_id') }} as game_id,
        {{ json_text('properties', 'mode') }} as game_mode,
        cast({{ json_text('properties', 'score') }} as bigint) as score,
        cast({{ json_text('properties', 'duration_seconds') }} as bigint) as game_duration_seconds,
        {{ json_text('properties', 'share_id') }} as share_id,
        {{ json_text('properties', 'invite_id') }} as invite_id,
        {{ json_text('properties', 'referrer_user_id') }} as referrer_user_id,
        {{ json_text('properties', 'destination') }} as share_destination,
        {{ json_text('properties', 'post_id') }} as post_id,
        {{ json_text('properties', 'product_id') }} as product_id,
        cast({{ json_text('properties', 'price') }} as double) as price,
        {{ json_text('properties', 'order_id') }} as order_id,
        cast({{ json_text('properties', 'revenue') }} as double) as revenue,

        -- timestamps: "timestamp" is the CDP's skew-corrected event time,
        -- received_at - (sent_at - original_timestamp)
        {{ adapter.quote('timestamp') }} as event_at,
        original_timestamp as device_event_at,
        sent_at as device_sent_at,
        received_at,
        event_date

    from deduplicated
    where delivery_number = 1

)

select * from renamed
