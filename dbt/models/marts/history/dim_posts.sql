{#- Every version of every post, with its creator's attributes as they were when the
    post was created (a point-in-time join on the users' history). -#}

with

versions as (

    select * from {{ ref('snap_posts') }}

),

users as (

    select * from {{ ref('dim_users') }}

),

numbered as (

    select
        *,
        cast(row_number() over (partition by post_id order by dbt_valid_from) as bigint) as version_number
    from versions

),

final as (

    select
        -- ids
        numbered.dbt_scd_id as post_version_id,
        numbered.post_id,
        numbered.creator_user_id,

        -- attributes
        numbered.version_number,
        numbered.body_length,
        numbered.is_hidden,
        numbered.dbt_valid_to is null as is_current,
        coalesce(cast(numbered.dbt_is_deleted as {{ dbt.type_string() }}) = 'True', false) as is_deleted,
        creator.country as creator_country_at_creation,
        creator.plan as creator_plan_at_creation,

        -- timestamps
        case
            when numbered.version_number = 1 then least(numbered.created_at, numbered.dbt_valid_from)
            else numbered.dbt_valid_from
        end as valid_from,
        numbered.dbt_valid_to as valid_to,
        numbered.created_at,
        numbered.updated_at

    from numbered
    left join users as creator
        on numbered.creator_user_id = creator.user_id
            and numbered.created_at >= creator.valid_from
            and (creator.valid_to is null or numbered.created_at < creator.valid_to)

)

select * from final
