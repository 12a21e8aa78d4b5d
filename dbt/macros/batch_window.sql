{#-
    The partition window reaches dbt through one channel: the event-time flags
    (--event-time-start/-end) Dagster passes, already widened by
    `partition_margin_days` on each side (product_analytics/policies/partitions.py).
    Microbatch models see one day of it at a time (their batch); other incremental
    models read the whole run window.
-#}

{#- The window of the running microbatch batch, as naive UTC timestamp literals
    {'start': 'YYYY-MM-DD HH:MM:SS', 'end': ...}, or none outside a batch. -#}
{% macro batch_window() -%}
    {%- set batch = model.get('batch') if model is mapping else none -%}
    {%- if batch and batch.get('event_time_start') and batch.get('event_time_end') -%}
        {{ return({
            'start': (batch.get('event_time_start') | string)[:19],
            'end': (batch.get('event_time_end') | string)[:19],
        }) }}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}


{#- The window of the whole run (the event-time flags), same shape, or none without
    the flags (a full build, unit tests, compile). -#}
{% macro run_window() -%}
    {%- set start = invocation_args_dict.get('event_time_start') -%}
    {%- set end = invocation_args_dict.get('event_time_end') -%}
    {%- if start and end -%}
        {{ return({'start': (start | string)[:19], 'end': (end | string)[:19]}) }}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}


{#- A where-clause predicate keeping rows of `window` (from batch_window or
    run_window), widened by whole days before and after; true without a window. -#}
{% macro in_window(window, column, days_before=0, days_after=0) -%}
    {%- if window -%}
        {{ column }} >= {{ dbt.dateadd('day', -days_before, "cast('" ~ window.start ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
        and {{ column }} < {{ dbt.dateadd('day', days_after, "cast('" ~ window.end ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- Rows of the running batch, widened by whole days (the context a batch needs). -#}
{% macro in_batch_window(column, days_before=0, days_after=0) -%}
    {{ in_window(batch_window(), column, days_before, days_after) }}
{%- endmacro %}


{#- Rows of the run's window (already widened by the margin). -#}
{% macro in_run_window(column) -%}
    {{ in_window(run_window(), column) }}
{%- endmacro %}


{#-
    The days of context on each side of a day: a session (or play session) starting
    on a day may run into the next one, and a run of activity may reach a day from
    the one before. Fails the build when a var outgrows it.
-#}
{% macro partition_margin_days() -%}
    {%- set margin = var('partition_margin_days') | int -%}
    {%- if var('session_max_hours') | float > margin * 24 -%}
        {{ exceptions.raise_compiler_error(
            "session_max_hours=" ~ var('session_max_hours') ~ " is longer than partition_margin_days=" ~ margin
            ~ " days: raise partition_margin_days in dbt_project.yml") }}
    {%- endif -%}
    {%- if var('play_session_timeout_minutes') | float > margin * 24 * 60 -%}
        {{ exceptions.raise_compiler_error(
            "play_session_timeout_minutes=" ~ var('play_session_timeout_minutes') ~ " is longer than partition_margin_days="
            ~ margin ~ " days: raise partition_margin_days in dbt_project.yml") }}
    {%- endif -%}
    {{ return(margin) }}
{%- endmacro %}
