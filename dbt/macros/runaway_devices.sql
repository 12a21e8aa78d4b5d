{#- A where-clause leaving out the devices int_devices_flagged_runaway lists, unless the
    var include_runaway_devices is true (docs/sessions.md, "Runaway devices"). -#}
{% macro without_runaway_devices(column='anonymous_id') -%}
    {%- if var('include_runaway_devices') | as_bool -%}
        where true
    {%- else -%}
        where {{ column }} not in (select flagged.anonymous_id from {{ ref('int_devices_flagged_runaway') }} as flagged)
    {%- endif -%}
{%- endmacro %}
