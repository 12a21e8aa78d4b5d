{#- SQL that differs between the engines (docs/scale.md): one macro per construct, with a
    DuckDB implementation (default__) and a Spark one (spark__). -#}

{#- The text of the top-level field `key` of the JSON document in `column` (null when absent). -#}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    {{ column }} ->> '{{ key }}'
{%- endmacro %}

{% macro spark__json_text(column, key) -%}
    get_json_object({{ column }}, '$.{{ key }}')
{%- endmacro %}


{#- On Spark, the raw tables are views over their daily Parquet partitions (Hive-style
    folders `<table>/<day column>=YYYY-MM-DD/`) under PA_SPARK_WAREHOUSE_DIR/raw (an
    absolute path), which product_analytics/engines/spark.py writes; a view reads the
    folders as they are, so a day replaced there is seen at once. Nothing to do on DuckDB,
    where ingestion writes the tables. -#}
{% macro register_raw_tables() -%}
    {{ return(adapter.dispatch('register_raw_tables')()) }}
{%- endmacro %}

{% macro default__register_raw_tables() -%}
{%- endmacro %}

{% macro spark__register_raw_tables() -%}
    {%- if execute %}
    {%- set root = env_var('PA_SPARK_WAREHOUSE_DIR') ~ '/raw' %}
    {%- do run_query('create schema if not exists raw') %}
    {%- for table in ['events', 'superseded_events', 'users', 'posts', 'orders'] %}
    {%- do run_query('create or replace view raw.' ~ table ~ ' as select * from parquet.`' ~ root ~ '/' ~ table ~ '`') %}
    {%- endfor %}
    {%- endif %}
{%- endmacro %}
