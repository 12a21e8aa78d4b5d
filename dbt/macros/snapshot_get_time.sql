{#-
    The time a snapshot run observes the operational tables. Dagster passes the end
    of the image day it snapshots (environment variable PA_SNAPSHOT_OBSERVED_AT), so a
    row that vanished from that image is recorded as deleted then, and re-runs are
    deterministic. Without it: now, in UTC. An environment variable, not a var: a
    changed var makes dbt parse the whole project again, a changed environment variable
    only the files that read it.
-#}
{% macro snapshot_get_time() -%}
    {%- set observed_at = env_var('PA_SNAPSHOT_OBSERVED_AT', '') -%}
    {%- if observed_at -%}
        cast('{{ observed_at }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        cast(timezone('UTC', now()) as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}
