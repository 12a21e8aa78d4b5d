{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        begin=var('start_date'),
        event_time='session_start_at',
        tags=['daily'],
    )
}}

{#- Every event with its device session. A batch owns the sessions that start
    in its day; it reads the day before (a run of activity reaching into the
    day) and the day after (sessions running past midnight). -#}

with

events as (

    select
        event_id,
        anonymous_id,
        user_id,
        event_name,
        is_page_view,
        page_name,
        page_path,
        platform,
        utm_source,
        utm_medium,
        utm_campaign,
        game_id,
        share_id,
        invite_id,
        referrer_user_id,
        post_id,
        product_id,
        order_id,
        revenue,
        event_at,
        event_date,
        received_at
    from {{ ref('stg_app__events') }}
    where {{ in_batch_window('event_date', days_before=partition_margin_days(), days_after=partition_margin_days()) }}

),

with_previous as (

    select
        *,
        lag(event_at) over (partition by anonymous_id order by event_at, event_id) as previous_event_at
    from events

),

runs as (

    select
        *,
        sum(
            case
                when previous_event_at is null then 1
                when {{ elapsed_microseconds('previous_event_at', 'event_at') }} > {{ session_inactivity_microseconds() }} then 1
                else 0
            end
        ) over (
            partition by anonymous_id order by event_at, event_id rows between unbounded preceding and current row
        ) as run_number
    from with_previous

),

run_starts as (

    select
        *,
        min(event_at) over (partition by anonymous_id, run_number) as run_start_at
    from runs

),

windows as (

    select
        *,
        floor({{ elapsed_microseconds('run_start_at', 'event_at') }} / {{ session_max_microseconds() }}) as window_number
    from run_starts

),

sessionized as (

    select
        *,
        min(event_at) over (partition by anonymous_id, run_number, window_number) as session_start_at
    from windows

),

final as (

    select
        -- ids
        {{ dbt.hash(dbt.concat(["anonymous_id", "'|'", dbt.cast("session_start_at", dbt.type_string())])) }} as session_id,
        event_id,
        anonymous_id,
        user_id,

        -- attributes
        row_number() over (partition by anonymous_id, session_start_at order by event_at, event_id) as event_number_in_session,
        event_name,
        is_page_view,
        page_name,
        page_path,
        platform,
        utm_source,
        utm_medium,
        utm_campaign,
        game_id,
        share_id,
        invite_id,
        referrer_user_id,
        post_id,
        product_id,
        order_id,
        revenue,

        -- measures
        case
            when session_start_at = event_at then null
            else {{ elapsed_microseconds('previous_event_at', 'event_at') }} / 1000000.0
        end as seconds_since_previous_event,

        -- timestamps
        event_at,
        event_date,
        session_start_at,
        received_at

    from sessionized

)

select * from final
where {{ in_batch_window('session_start_at') }}
