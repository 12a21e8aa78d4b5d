with

source as (

    select * from {{ source('app', 'events') }}
    where type = 'identify'

),

renamed as (

    select
        -- ids
        message_id,
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

    from source

)

select * from renamed
