with

source as (

    select * from {{ source('app', 'events') }}
    where type = 'identify'

),

deduplicated as (

    select
        *,
        {{ delivery_number() }} as delivery_number
    from source

),

renamed as (

    select
        -- ids
        message_id as identify_id,
        anonymous_id,
        user_id,

        -- attributes
        {{ json_text('traits', 'email') }} as email,
        {{ json_text('traits', 'country') }} as country,
        {{ json_text('traits', 'plan') }} as plan,
        context_platform as platform,

        -- timestamps
        {{ adapter.quote('timestamp') }} as identified_at,
        received_at,
        event_date

    from deduplicated
    where delivery_number = 1

)

select * from renamed
