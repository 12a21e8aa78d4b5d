{#-
    ordered_funnel(events, steps, window_seconds, user_column='visitor_id')

    An ordered user funnel over any list of event names (docs/funnels.md):
    - an attempt starts at each event of the first step;
    - step k counts when an event of step k comes strictly after the event that
      matched step k-1 (by time, then event id: a repeated step needs a distinct,
      later event) and no later than `window_seconds` after the attempt's first
      step (the boundary is inclusive); each step takes its earliest such event;
    - each user counts once, with the attempt that got furthest (the earliest if tied),
      in the cohort of that attempt's entry day;
    - an entry day whose window has not fully elapsed by the end of the data
      (the day after the last event day) is flagged `is_complete = false`.

    `events` must have: the user column, event_id, event_name, event_at, event_date.
    Output: one row per entry day and step: users, conversion from the first and the
    previous step, drop-off from the previous step, median and mean seconds from the
    first step.
-#}
{% macro ordered_funnel(events, steps, window_seconds, user_column='visitor_id') %}
{%- set n = steps | length -%}
with

funnel_events as (

    select {{ user_column }} as funnel_user, event_id, event_name, event_at, event_date
    from {{ events }}
    where event_name in ({% for step in steps | unique %}'{{ step }}'{% if not loop.last %}, {% endif %}{% endfor %})

),

data_end as (

    select {{ dbt.dateadd('day', 1, 'cast(max(event_date) as ' ~ dbt.type_timestamp() ~ ')') }} as data_end_at
    from {{ events }}

),

step_1 as (

    select funnel_user, event_id as attempt_id, event_at as step_1_at, event_id as step_1_id
    from funnel_events
    where event_name = '{{ steps[0] }}'

),

{% for i in range(2, n + 1) %}
step_{{ i }}_candidates as (

    select
        previous.attempt_id,
        candidate.event_at as step_{{ i }}_at,
        candidate.event_id as step_{{ i }}_id,
        row_number() over (partition by previous.attempt_id order by candidate.event_at, candidate.event_id) as candidate_rank
    from step_{{ i - 1 }} as previous
    inner join funnel_events as candidate
        on candidate.funnel_user = previous.funnel_user
        and candidate.event_name = '{{ steps[i - 1] }}'
        and (
            candidate.event_at > previous.step_{{ i - 1 }}_at
            or (candidate.event_at = previous.step_{{ i - 1 }}_at and candidate.event_id > previous.step_{{ i - 1 }}_id)
        )
        and candidate.event_at <= {{ dbt.dateadd('second', window_seconds, 'previous.step_1_at') }}
    where previous.step_{{ i - 1 }}_at is not null

),

step_{{ i }} as (

    select previous.*, candidate.step_{{ i }}_at, candidate.step_{{ i }}_id
    from step_{{ i - 1 }} as previous
    left join step_{{ i }}_candidates as candidate
        on previous.attempt_id = candidate.attempt_id and candidate.candidate_rank = 1

),
{% endfor %}

attempts as (

    select
        *,
        {% for i in range(1, n + 1) %}(case when step_{{ i }}_at is not null then 1 else 0 end){% if not loop.last %} + {% endif %}{% endfor %} as depth
    from step_{{ n }}

),

best_attempts as (

    select *
    from (
        select
            *,
            row_number() over (partition by funnel_user order by depth desc, step_1_at, attempt_id) as attempt_rank
        from attempts
    ) as ranked
    where attempt_rank = 1

),

per_step as (

    {% for i in range(1, n + 1) %}
    select
        cast(step_1_at as date) as entry_date,
        {{ i }} as step_number,
        '{{ steps[i - 1] }}' as step_name,
        count(*) as users,
        avg({{ elapsed_milliseconds('step_1_at', 'step_' ~ i ~ '_at') }} / 1e3) as mean_seconds_from_first_step,
        percentile_cont(0.5) within group (
            order by {{ elapsed_milliseconds('step_1_at', 'step_' ~ i ~ '_at') }} / 1e3
        ) as median_seconds_from_first_step
    from best_attempts
    where depth >= {{ i }}
    group by cast(step_1_at as date)
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

entry_days as (

    select distinct entry_date from per_step

),

grid as (

    {% for i in range(1, n + 1) %}
    select entry_date, {{ i }} as step_number, '{{ steps[i - 1] }}' as step_name from entry_days
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

filled as (

    select grid.entry_date, grid.step_number, grid.step_name, coalesce(per_step.users, 0) as users,
        per_step.mean_seconds_from_first_step, per_step.median_seconds_from_first_step
    from grid
    left join per_step on grid.entry_date = per_step.entry_date and grid.step_number = per_step.step_number

),

final as (

    select
        filled.entry_date,
        filled.step_number,
        filled.step_name,
        filled.users,
        {{ safe_ratio('filled.users', 'first_value(filled.users) over (partition by filled.entry_date order by filled.step_number)') }}
            as conversion_from_first_step,
        {{ safe_ratio('filled.users', 'lag(filled.users) over (partition by filled.entry_date order by filled.step_number)') }}
            as conversion_from_previous_step,
        lag(filled.users) over (partition by filled.entry_date order by filled.step_number) - filled.users as drop_off,
        filled.median_seconds_from_first_step,
        filled.mean_seconds_from_first_step,
        {{ dbt.dateadd('second', window_seconds, dbt.dateadd('day', 1, 'cast(filled.entry_date as ' ~ dbt.type_timestamp() ~ ')')) }}
            <= data_end.data_end_at as is_complete
    from filled
    cross join data_end

)

select * from final
{% endmacro %}
