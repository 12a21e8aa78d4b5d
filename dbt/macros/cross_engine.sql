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


{#- A daily model's `partition_by`: its day column on Spark, where dbt-spark's microbatch
    overwrites the partitions of each batch (see get_insert_overwrite_sql below); none on
    DuckDB, where a batch deletes and inserts its event-time window. -#}
{% macro day_partition(column) -%}
    {{ return(column if target.type == 'spark' else none) }}
{%- endmacro %}


{#- One row per day from `first` to `last` (date expressions; scalar subqueries allowed),
    both included, none when `last` is before `first` or either is null: a relation with
    the column date_day. -#}
{% macro day_series(first, last) -%}
    {{ return(adapter.dispatch('day_series')(first, last)) }}
{%- endmacro %}

{% macro default__day_series(first, last) -%}
    (select cast(range as date) as date_day
     from range(cast({{ first }} as timestamp), cast({{ last }} as timestamp) + interval 1 day, interval 1 day))
{%- endmacro %}

{% macro spark__day_series(first, last) -%}
    {#- sequence() fails on a stop before its start: it runs to the later of the two, and
        the days past `last` are dropped -#}
    (select date_day
     from (
         select explode(sequence(first_day, greatest(first_day, last_day), interval 1 day)) as date_day, last_day
         from (select cast({{ first }} as date) as first_day, cast({{ last }} as date) as last_day) as bounds
     ) as days
     where date_day <= last_day)
{%- endmacro %}


{#- The integers 0 to n - 1, as a relation with the column n. -#}
{% macro integer_series(n) -%}
    {{ return(adapter.dispatch('integer_series')(n)) }}
{%- endmacro %}

{% macro default__integer_series(n) -%}
    (select range as n from range({{ n }}))
{%- endmacro %}

{% macro spark__integer_series(n) -%}
    (select cast(id as bigint) as n from range({{ n }}))
{%- endmacro %}


{#- A contract's column types as Spark names them: the contracts are written with
    DuckDB's types, and DuckDB's 128-bit integer (a sum of bigints) is Spark's bigint. -#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set translated = {} -%}
    {%- for name in columns -%}
        {%- set column = columns[name].copy() -%}
        {%- if column.get('data_type') and column['data_type'] | lower == 'hugeint' -%}
            {%- do column.update({'data_type': 'bigint'}) -%}
        {%- endif -%}
        {%- do translated.update({name: column}) -%}
    {%- endfor -%}
    {{ return(default__get_empty_schema_sql(translated)) }}
{%- endmacro %}


{#- The earliest instant, the value of a cursor before a model's first build. -#}
{% macro start_of_time() -%}
    {{ return(adapter.dispatch('start_of_time')()) }}
{%- endmacro %}

{% macro default__start_of_time() -%}
    timestamptz '1900-01-01 00:00:00+00'
{%- endmacro %}

{% macro spark__start_of_time() -%}
    timestamp '1900-01-01 00:00:00'
{%- endmacro %}


{#- The sum of a float column in a fixed order, so that a rebuild gives the same last bits
    (DuckDB); Spark has no ordered aggregate, and its sums of floats may differ in the last
    bits from run to run. -#}
{% macro ordered_sum(column, order) -%}
    {{ return(adapter.dispatch('ordered_sum')(column, order)) }}
{%- endmacro %}

{% macro default__ordered_sum(column, order) -%}
    sum({{ column }} order by {{ order }})
{%- endmacro %}

{% macro spark__ordered_sum(column, order) -%}
    sum({{ column }})
{%- endmacro %}


{#- dbt.dateadd on Spark keeps the microseconds: dbt-spark's own goes through whole
    seconds for the units below a day. As on DuckDB, the result is a timestamp. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart | upper }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}
