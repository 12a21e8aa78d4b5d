{#- numerator / denominator as a fraction, null when the denominator is 0. -#}
{% macro safe_ratio(numerator, denominator) -%}
    case when {{ denominator }} = 0 then null else cast({{ numerator }} as double) / {{ denominator }} end
{%- endmacro %}
