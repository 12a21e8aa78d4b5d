{#-
    The session rule, in one place (docs/sessions.md):
    per device, a new session starts when the time since the device's previous
    event is more than `session_inactivity_minutes` (exact elapsed time: 30:00
    stays, 30:00.001 splits), and a run of activity longer than
    `session_max_hours` is cut into consecutive windows of that length counted
    from the run's first event.
-#}
{% macro session_inactivity_microseconds() -%}
    (cast({{ var('session_inactivity_minutes') }} * 60 as bigint) * 1000000)
{%- endmacro %}

{% macro session_max_microseconds() -%}
    (cast({{ var('session_max_hours') }} * 3600 as bigint) * 1000000)
{%- endmacro %}

{#- Exact elapsed time between two instants, in whole microseconds (milliseconds): on
    Spark from the instants' epoch values, since dbt-spark's datediff works in whole
    seconds plus the fraction read from the text of the timestamp. -#}
{% macro elapsed_microseconds(earlier, later) -%}
    {{ return(adapter.dispatch('elapsed_microseconds')(earlier, later)) }}
{%- endmacro %}

{% macro default__elapsed_microseconds(earlier, later) -%}
    {{ dbt.datediff(earlier, later, 'microsecond') }}
{%- endmacro %}

{% macro spark__elapsed_microseconds(earlier, later) -%}
    (unix_micros({{ later }}) - unix_micros({{ earlier }}))
{%- endmacro %}

{% macro elapsed_milliseconds(earlier, later) -%}
    {{ return(adapter.dispatch('elapsed_milliseconds')(earlier, later)) }}
{%- endmacro %}

{% macro default__elapsed_milliseconds(earlier, later) -%}
    {{ dbt.datediff(earlier, later, 'millisecond') }}
{%- endmacro %}

{% macro spark__elapsed_milliseconds(earlier, later) -%}
    (unix_millis({{ later }}) - unix_millis({{ earlier }}))
{%- endmacro %}
