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

{% macro elapsed_microseconds(earlier, later) -%}
    {{ dbt.datediff(earlier, later, 'microsecond') }}
{%- endmacro %}
