{#- Numbers the delivered copies of each message (1 = earliest received); a duplicate
    is the same message_id delivered again, within the same event day. -#}
{% macro delivery_number() -%}
    row_number() over (
        partition by event_date, message_id
        order by received_at, _loaded_at
    )
{%- endmacro %}
