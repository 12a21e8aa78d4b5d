{#-
    The time a snapshot run observes the operational tables. Dagster passes the end
    of the latest loaded image day (`snapshot_observed_at`), so a row that vanished
    from that image is recorded as deleted then, and re-runs are deterministic.
    Without the var: now, in UTC.
-#}
{% macro snapshot_get_time() -%}
    {%- if var('snapshot_observed_at', none) -%}
        cast('{{ var("snapshot_observed_at") }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        cast(timezone('UTC', now()) as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}
