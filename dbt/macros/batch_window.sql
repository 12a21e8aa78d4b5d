{#-
    The partition window of the running microbatch batch, as naive UTC timestamp
    literals: {'start': 'YYYY-MM-DD HH:MM:SS', 'end': ...}, or none outside a batch
    (unit tests, compile). Dagster passes the window with --event-time-start/-end.
-#}
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


{#-
    A where-clause predicate keeping rows of the running batch, widened by whole
    days before and after (the context a batch needs); true outside a batch.
-#}
{% macro in_batch_window(column, days_before=0, days_after=0) -%}
    {%- set window = batch_window() -%}
    {%- if window -%}
        {{ column }} >= {{ dbt.dateadd('day', -days_before, "cast('" ~ window.start ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
        and {{ column }} < {{ dbt.dateadd('day', days_after, "cast('" ~ window.end ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
