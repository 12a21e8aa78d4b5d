{#- Records that the snapshots observed the image of `snapshot_date` (at `observed_at`):
    the replay of older images (product_analytics/resources/dbt_batch.py) calls it after
    each day, in the same process, so a replay cut short resumes after the last day
    recorded. The table is created by the dbt_snapshots asset before any replay. -#}
{% macro record_snapshot_observation(snapshot_date, observed_at) -%}
    {%- set sql -%}
        insert into snapshots.observed_images
        values (cast('{{ snapshot_date }}' as date), cast('{{ observed_at }}' as timestamp))
    {%- endset -%}
    {%- do run_query(sql) -%}
    {%- do adapter.commit() -%}
{%- endmacro %}
