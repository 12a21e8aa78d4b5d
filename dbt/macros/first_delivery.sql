{#- Numbers the delivered copies of each message within its event day (1 = earliest
    received). Copies on other days are settled by ingestion (raw.superseded_events). -#}
{% macro delivery_number() -%}
    row_number() over (
        partition by event_date, message_id
        order by received_at, _loaded_at
    )
{%- endmacro %}
