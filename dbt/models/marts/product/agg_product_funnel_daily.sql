{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('replace_keys'),
        unique_key='session_date',
        meta={'replace_keys': {'marker_column': 'sessions'}},
        post_hook="{{ advance_cursor(['fct_sessions', 'int_devices_flagged_runaway']) }}",
    )
}}

{#- The session funnel per day: sessions that viewed a page, then added a product, then
    started a checkout, then completed an order. A step counts only sessions that also
    reached every step before it, so the counts never increase along the funnel.
    Kept by day (macros/incremental_changes.sql): a run recounts the days rebuilt since its
    last run and the days with a session of a device whose runaway flag was recomputed
    since (a visitor's identity changes no count), every day once fct_sessions or the flags
    were rebuilt from scratch, and carries the totals to date forward from the first of
    them. -#}

-- depends_on: {{ ref('int_days_rebuilt') }}
-- depends_on: {{ ref('int_sessions_aggregated') }}

with

{% if is_incremental() %}
touched_days as (

    select rebuilt_date as session_date from {{ days_rebuilt_since_cursor() }}
    union
    select session_date from {{ ref('int_sessions_aggregated') }}
    where anonymous_id in {{ replaced_since_cursor('int_devices_flagged_runaway', 'anonymous_id') }}
    -- fct_sessions or the flags rebuilt from scratch: every day
    union
    {{ every_key_if_rebuilt(['fct_sessions', 'int_devices_flagged_runaway'], 'session_date', [this, ref('int_sessions_aggregated')]) }}

),

first_touched as (

    select min(session_date) as session_date from touched_days

),
{% endif %}

sessions as (

    select * from {{ ref('fct_sessions') }}
    {% if is_incremental() -%}
    where session_date in (select session_date from touched_days)
    {%- endif %}

),

recounted as (

    select
        session_date,
        count(*) as sessions,
        sum(case when page_view_count > 0 then 1 else 0 end) as viewed_sessions,
        sum(case when page_view_count > 0 and product_added_count > 0 then 1 else 0 end) as added_sessions,
        sum(
            case when page_view_count > 0 and product_added_count > 0 and checkout_started_count > 0 then 1 else 0 end
        ) as checkout_sessions,
        sum(
            case
                when page_view_count > 0 and product_added_count > 0 and checkout_started_count > 0 and order_completed_count > 0
                    then 1
                else 0
            end
        ) as ordered_sessions
    from sessions
    group by session_date

),

steps as (

    select * from recounted
    {% if is_incremental() %}
    union all
    -- the days after the first touched one that were not touched: their counts stand
    select session_date, sessions, viewed_sessions, added_sessions, checkout_sessions, ordered_sessions
    from {{ this }}
    where session_date > (select session_date from first_touched)
        and session_date not in (select session_date from touched_days)
    {% endif %}

),

{% if is_incremental() %}
carried as (

    -- the totals to date of the last day before the first touched one (zero without one)
    select
        coalesce(max(viewed_sessions_to_date), 0) as viewed_sessions,
        coalesce(max(added_sessions_to_date), 0) as added_sessions,
        coalesce(max(checkout_sessions_to_date), 0) as checkout_sessions,
        coalesce(max(ordered_sessions_to_date), 0) as ordered_sessions
    from {{ this }}
    where session_date = (
        select max(session_date) from {{ this }} where session_date < (select session_date from first_touched)
    )

),
{% endif %}

to_date as (

    select
        *,
        {% if is_incremental() %}(select viewed_sessions from carried) + {% endif %}sum(viewed_sessions) over (order by session_date rows between unbounded preceding and current row) as viewed_sessions_to_date,
        {% if is_incremental() %}(select added_sessions from carried) + {% endif %}sum(added_sessions) over (order by session_date rows between unbounded preceding and current row) as added_sessions_to_date,
        {% if is_incremental() %}(select checkout_sessions from carried) + {% endif %}sum(checkout_sessions) over (order by session_date rows between unbounded preceding and current row) as checkout_sessions_to_date,
        {% if is_incremental() %}(select ordered_sessions from carried) + {% endif %}sum(ordered_sessions) over (order by session_date rows between unbounded preceding and current row) as ordered_sessions_to_date
    from steps

),

final as (

    select
        session_date,
        sessions,
        viewed_sessions,
        added_sessions,
        checkout_sessions,
        ordered_sessions,
        {{ safe_ratio('added_sessions', 'viewed_sessions') }} as added_conversion,
        {{ safe_ratio('checkout_sessions', 'added_sessions') }} as checkout_conversion,
        {{ safe_ratio('ordered_sessions', 'checkout_sessions') }} as order_conversion,
        {{ safe_ratio('ordered_sessions', 'viewed_sessions') }} as overall_conversion,
        viewed_sessions - added_sessions as added_drop_off,
        added_sessions - checkout_sessions as checkout_drop_off,
        checkout_sessions - ordered_sessions as order_drop_off,
        viewed_sessions_to_date,
        added_sessions_to_date,
        checkout_sessions_to_date,
        ordered_sessions_to_date,
        {{ safe_ratio('ordered_sessions_to_date', 'viewed_sessions_to_date') }} as overall_conversion_to_date
    from to_date

)

{% if is_incremental() %}
-- a marker per touched day: its row goes when it has no session left
{{ with_markers('final', 'session_date', 'touched_days') }}
{% else %}
select * from final
{% endif %}
