with

source as (

    select * from {{ source('app', 'orders') }}

),

renamed as (

    select
        -- ids
        id as order_id,
        user_id,

        -- attributes
        status,
        revenue,

        -- timestamps
        created_at,
        updated_at,
        snapshot_date

    from source

)

select * from renamed
