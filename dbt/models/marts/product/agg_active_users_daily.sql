{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('replace_keys'),
        unique_key='activity_date',
        meta={'replace_keys': {'marker_column': 'platform'}},
        post_hook="{{ advance_cursor(['int_visitor_active_days']) }}",
    )
}}

{#- Active users and their lifecycle per day and platform, 'all' for every platform
    together (docs/metrics.md). A visitor counts on a platform's row through its
    activity on that platform only. A row exists for each day up to the last day with
    activity on which the platform had an active visitor in the 28 days ending that day.

    Kept by day (macros/incremental_changes.sql): a row of day D reads the visitor days of
    D-27 to D, so a run rewrites the 28 days from each day whose visitor days changed
    since its last run (int_visitor_active_days records them; a visitor's first day
    counts as changed when it moves), the days after the last day it had built up to the
    last day now, and drops days past that. -#}

-- depends_on: {{ ref('int_days_rebuilt') }}

with

bounds as (

    select max(activity_date) as last_date from {{ ref('int_visitor_active_days') }} where platform = 'all'

),

{% if is_incremental() %}
touched_days as (

    select distinct cast({{ dbt.dateadd('day', 'cast(offsets.n as integer)', 'cast(changed.key_value as date)') }} as date) as activity_date
    from {{ replaced_since_cursor('int_visitor_active_days', 'activity_date') }} as changed
    cross join {{ integer_series(28) }} as offsets
    union
    -- the days after the last day built before (or all of them after a build from scratch)
    select date_day
    from {{ day_series(
        "coalesce(case when " ~ replaced_whole_since_cursor('int_visitor_active_days') ~ " then null
            else (select max(activity_date) from " ~ this ~ ") + 1 end,
            (select min(activity_date) from " ~ ref('int_visitor_active_days') ~ "))",
        "(select last_date from bounds)"
    ) }} as days
    union
    -- days past the last day now: their rows go
    select activity_date from {{ this }} where activity_date > (select last_date from bounds)

),

first_touched as (

    select min(activity_date) as activity_date from touched_days

),
{% endif %}

visitor_days as (

    -- the visitor days a row from the first touched day on reads, with each visitor's
    -- active day before and after on the platform
    select
        visitor_id,
        platform,
        activity_date,
        is_first_activity,
        lag(activity_date) over (partition by visitor_id, platform order by activity_date) as previous_date,
        lead(activity_date) over (partition by visitor_id, platform order by activity_date) as next_date
    from {{ ref('int_visitor_active_days') }}
    {% if is_incremental() -%}
    where activity_date >= (select activity_date from first_touched) - 28
    {%- endif %}

),

-- A visitor active on day A is in the 28-day (7-day) count of the days from A to
-- A + 27 (A + 6), until their next active day takes over: +1 on A, -1 at the end.
window_changes as (

    select platform, activity_date as change_date, 1 as mau_change, 1 as wau_change from visitor_days
    union all
    select
        platform,
        least(activity_date + 28, coalesce(next_date, activity_date + 28)) as change_date,
        -1 as mau_change,
        0 as wau_change
    from visitor_days
    union all
    select
        platform,
        least(activity_date + 7, coalesce(next_date, activity_date + 7)) as change_date,
        0 as mau_change,
        -1 as wau_change
    from visitor_days

),

calendar as (

    select platforms.platform, days.date_day as activity_date
    from (select distinct platform from visitor_days) as platforms
    cross join {{ day_series('(select min(activity_date) from visitor_days)', '(select last_date from bounds)') }} as days

),

windows as (

    select
        calendar.platform,
        calendar.activity_date,
        sum(coalesce(sum(changes.mau_change), 0)) over by_day as mau,
        sum(coalesce(sum(changes.wau_change), 0)) over by_day as wau
    from calendar
    left join window_changes as changes
        on calendar.platform = changes.platform and calendar.activity_date = changes.change_date
    group by calendar.platform, calendar.activity_date
    window by_day as (partition by calendar.platform order by calendar.activity_date rows between unbounded preceding and current row)

),

today as (

    select
        platform,
        activity_date,
        count(*) as dau,
        count(*) filter (where is_first_activity) as new_users,
        count(*) filter (where previous_date = activity_date - 1) as returning_users
    from visitor_days
    group by platform, activity_date

),

lapsed as (

    -- active the day before, not on the day
    select platform, activity_date + 1 as activity_date, count(*) as dormant_users
    from visitor_days
    where next_date is null or next_date > activity_date + 1
    group by platform, activity_date

),

final as (

    select
        windows.activity_date,
        windows.platform,
        coalesce(today.dau, 0) as dau,
        cast(windows.wau as bigint) as wau,
        cast(windows.mau as bigint) as mau,
        {{ safe_ratio('coalesce(today.dau, 0)', 'windows.mau') }} as stickiness,
        coalesce(today.new_users, 0) as new_users,
        coalesce(today.returning_users, 0) as returning_users,
        coalesce(today.dau - today.new_users - today.returning_users, 0) as resurrecting_users,
        coalesce(lapsed.dormant_users, 0) as dormant_users
    from windows
    left join today on windows.platform = today.platform and windows.activity_date = today.activity_date
    left join lapsed on windows.platform = lapsed.platform and windows.activity_date = lapsed.activity_date
    where windows.mau > 0
    {% if is_incremental() -%}
        and windows.activity_date in (select activity_date from touched_days)
    {%- endif %}

)

{% if is_incremental() %}
-- a marker per touched day: its rows go when it has none left
{{ with_markers('final', 'activity_date', 'touched_days') }}
{% else %}
select * from final
{% endif %}
