with

source as (

    select * from {{ source('app', 'posts') }}

),

renamed as (

    select
        -- ids
        id as post_id,
        user_id as creator_user_id,

        -- attributes
        body_length,
        is_hidden,

        -- timestamps
        created_at,
        updated_at,
        snapshot_date

    from source

)

select * from renamed
