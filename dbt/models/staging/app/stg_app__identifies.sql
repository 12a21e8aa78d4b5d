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
        traits ->> 'email' as email,
        traits ->> 'country' as country,
        traits ->> 'plan' as plan,
        context_platform as platform,

        -- timestamps
        "timestamp" as identified_at,
        received_at,
        event_date

    from deduplicated
    where delivery_number = 1

)

select * from renamed
