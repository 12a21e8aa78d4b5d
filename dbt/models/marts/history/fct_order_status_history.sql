{#- One row per order and status: when the order entered it, when it left it, and how
    long it stayed. Daily images can miss a status an order passed through within a
    day; an order first seen beyond `placed` gets its `placed` row from created_at. -#}

with

versions as (

    select * from {{ ref('snap_orders') }}
    where coalesce(cast(dbt_is_deleted as {{ dbt.type_string() }}) = 'True', false) = false

),

numbered as (

    select
        *,
        cast(row_number() over (partition by order_id order by dbt_valid_from) as bigint) as version_number
    from versions

),

observed as (

    select order_id, user_id, status, revenue, dbt_valid_from as valid_from, dbt_valid_to as valid_to
    from numbered

),

placed_before_first_image as (

    select order_id, user_id, 'placed' as status, revenue, created_at as valid_from, dbt_valid_from as valid_to
    from numbered
    where version_number = 1 and status != 'placed' and created_at < dbt_valid_from

),

final as (

    select
        order_id,
        user_id,
        status,
        revenue,
        valid_from,
        valid_to,
        {{ elapsed_microseconds('valid_from', 'valid_to') }} / 1e6 as duration_seconds
    from (
        select * from observed
        union all
        select * from placed_before_first_image
    ) as statuses

)

select * from final
