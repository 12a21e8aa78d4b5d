{#- Every version of every user. The first version is valid from the user's creation,
    so events earlier than the first snapshot still find their user. -#}

with

versions as (

    select * from {{ ref('snap_users') }}

),

numbered as (

    select
        *,
        cast(row_number() over (partition by user_id order by dbt_valid_from) as bigint) as version_number
    from versions

),

final as (

    select
        -- ids
        dbt_scd_id as user_version_id,
        user_id,

        -- attributes
        version_number,
        email,
        country,
        plan,
        dbt_valid_to is null as is_current,
        deleted_at is not null or coalesce(cast(dbt_is_deleted as {{ dbt.type_string() }}) = 'True', false) as is_deleted,

        -- timestamps
        case when version_number = 1 then least(created_at, dbt_valid_from) else dbt_valid_from end as valid_from,
        dbt_valid_to as valid_to,
        created_at,
        updated_at,
        deleted_at

    from numbered

)

select * from final
