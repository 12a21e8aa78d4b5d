{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        begin=var('start_date'),
        event_time='session_start_at',
        partition_by=day_partition('session_date'),
        tags=['daily'],
        on_schema_change='append_new_columns',
    )
}}

{#- Every event with its device session. A batch owns the sessions that start
    in its day; it reads the day before (a run of activity reaching into the
    day) and the day after (sessions running past midnight). A run of activity
    that began even earlier is carried in: its start, from the device's last
    event before the days read (already built), places the cuts at the
    maximum length where a full build places them. -#}

{%- set batch = batch_window() -%}
{%- set margin = partition_margin_days() -%}
{#- Also in a full refresh: each batch after the first reads the ones before it. -#}
{%- set built = batch and execute and adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
{%- if built -%}
    {%- set read_from = dbt.dateadd('day', -margin, "cast('" ~ batch.start ~ "' as " ~ dbt.type_timestamp() ~ ")") -%}
    {#- Tables built before runs were carried have no run_start_at: their sessions' start stands in. -#}
    {%- set has_run_start = 'run_start_at' in adapter.get_columns_in_relation(built) | map(attribute='name') | list -%}
{%- endif %}

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
    where {{ in_batch_window('event_date', days_before=margin, days_after=margin) }}

),

-- Each device's last event in the inactivity span before the first day read, with the
-- start of its run of activity: a run that began before the days read continues.
carried as (

    {%- if read_from %}
    select anonymous_id, carried_event_at, carried_run_start_at
    from (
        select
            anonymous_id,
            event_at as carried_event_at,
            {{ 'coalesce(run_start_at, session_start_at)' if has_run_start else 'session_start_at' }} as carried_run_start_at,
            row_number() over (partition by anonymous_id order by event_at desc, event_id desc) as recency
        from {{ this }}
        where
            event_at < {{ read_from }}
            -- a plain range first, so the scan skips the row groups of older days
            and event_at >= {{ dbt.dateadd('minute', -(var('session_inactivity_minutes') | int + 1), read_from) }}
            and {{ elapsed_microseconds('event_at', read_from) }} <= {{ session_inactivity_microseconds() }}
    ) as latest
    where recency = 1
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        cast(null as {{ dbt.type_timestamp() }}) as carried_event_at,
        cast(null as {{ dbt.type_timestamp() }}) as carried_run_start_at
    where false
    {%- endif %}

),

with_previous as (

    select
        events.*,
        carried.carried_run_start_at,
        coalesce(
            lag(events.event_at) over (partition by events.anonymous_id order by events.event_at, events.event_id),
            carried.carried_event_at
        ) as previous_event_at
    from events
    left join carried on events.anonymous_id = carried.anonymous_id

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
        case
            when run_number = 0 then carried_run_start_at  -- the carried run goes on
            else min(event_at) over (partition by anonymous_id, run_number)
        end as run_start_at
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
        cast(row_number() over (partition by anonymous_id, session_start_at order by event_at, event_id) as bigint) as event_number_in_session,
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
            else {{ elapsed_microseconds('previous_event_at', 'event_at') }} / 1e6
        end as seconds_since_previous_event,

        -- timestamps
        event_at,
        event_date,
        session_start_at,
        run_start_at,
        received_at,
        cast(session_start_at as date) as session_date

    from sessionized

)

select * from final
where {{ in_batch_window('session_start_at') }}
