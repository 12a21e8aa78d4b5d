with

source as (

    select * from {{ source('app', 'users') }}

),

renamed as (

    select
        -- ids
        id as user_id,

        -- attributes
        email,
        country,
        plan,
        deleted_at is not null as is_deleted,

        -- timestamps
        created_at,
        updated_at,
        deleted_at,
        snapshot_date

    from source

)

select * from renamed
