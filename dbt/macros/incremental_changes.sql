{#-
    How the marts built from the whole history stay incremental (docs/partitions-and-late-data.md,
    "What a run revisits").

    - int_days_rebuilt logs each day the daily (microbatch) models rebuilt, and when.
    - A mart keeps a cursor: how far it has consumed that log and the change records of the
      marts it reads. A run reads what changed after its cursor, works out the keys (a
      visitor, a device, a day) whose rows that can change, and recomputes exactly those
      keys from all their history.
    - The strategy `replace_keys` (the model's meta.replace_keys) deletes every row of each
      `unique_key` the query returns and inserts the query's rows. A key that now has no
      row at all is returned once as a marker: a row whose `marker_column` is null, which
      is not inserted.
    - `record_replaced` lists columns whose values among the rows it deleted or
      inserted are recorded (intermediate._replaced_keys), for the marts that read it;
      `record_changed` lists columns whose values are recorded only among the rows that
      differ (deleted and not inserted again, or inserted and not there before).
    Cursor, records and replacement are written in the model's own transaction.
-#}

{% macro incremental_state_schema() -%}
    {{ generate_schema_name('intermediate', none) }}
{%- endmacro %}

{% macro replaced_keys_relation() -%}
    {{ incremental_state_schema() }}._replaced_keys
{%- endmacro %}

{% macro cursors_relation() -%}
    {{ incremental_state_schema() }}._incremental_cursors
{%- endmacro %}


{#- on-run-start (dbt_project.yml), before any model runs, alone: the state's tables, and
    the records every consumer has read dropped (on Spark, whose Parquet tables take no
    delete, the records stay). -#}
{% macro ensure_incremental_state() -%}
    {{ return(adapter.dispatch('ensure_incremental_state')()) }}
{%- endmacro %}

{% macro spark__ensure_incremental_state() -%}
    {%- if execute %}
    {%- do run_query('create schema if not exists ' ~ incremental_state_schema()) %}
    {%- do run_query('create table if not exists ' ~ replaced_keys_relation()
        ~ ' (model string, key_column string, key_value string, replaced_at timestamp) using parquet') %}
    {%- do run_query('create table if not exists ' ~ cursors_relation()
        ~ ' (model string, consumed_through timestamp) using parquet') %}
    {%- endif %}
{%- endmacro %}

{% macro default__ensure_incremental_state() -%}
    create schema if not exists {{ incremental_state_schema() }};
    create table if not exists {{ replaced_keys_relation() }} (
        model varchar, key_column varchar, key_value varchar, replaced_at timestamp with time zone
    );
    create table if not exists {{ cursors_relation() }} (model varchar, consumed_through timestamp with time zone);
    delete from {{ replaced_keys_relation() }}
    where replaced_at <= (select min(consumed_through) from {{ cursors_relation() }})
{%- endmacro %}


{#- The model's cursor, as a scalar subquery (the start of time before its first build). -#}
{% macro changes_cursor() -%}
    (select coalesce(max(consumed_through), {{ start_of_time() }})
     from {{ cursors_relation() }} where model = '{{ this.name }}')
{%- endmacro %}


{#- The days the daily models rebuilt after the model's cursor, as a subquery of one column. -#}
{% macro days_rebuilt_since_cursor() -%}
    (select rebuilt_date from {{ ref('int_days_rebuilt') }} where rebuilt_at > {{ changes_cursor() }})
{%- endmacro %}


{#- The values of `key_column` that model `producer` recorded after the cursor, as a
    subquery of one varchar column. -#}
{% macro replaced_since_cursor(producer, key_column) -%}
    (select key_value from {{ replaced_keys_relation() }}
     where model = '{{ producer }}' and key_column = '{{ key_column }}' and replaced_at > {{ changes_cursor() }})
{%- endmacro %}


{#- True when model `producer` (or one of a list of them) was built from scratch after the
    cursor (every key replaced). -#}
{% macro replaced_whole_since_cursor(producer) -%}
    {%- set producers = [producer] if producer is string else producer -%}
    exists (select 1 from {{ replaced_keys_relation() }}
            where model in ({% for p in producers %}'{{ p }}'{% if not loop.last %}, {% endif %}{% endfor %})
            and key_column = '*' and replaced_at > {{ changes_cursor() }})
{%- endmacro %}


{#- Every value of `column` in each of `relations` when one of `producers` was built from
    scratch after the cursor, and no row otherwise: selects to union into a model's touched
    keys. A producer rebuilt from scratch (a full refresh of it alone, after its SQL or a
    var it reads changed) may have changed any row, so its reader revisits every key it
    holds (`this`: rows that may go) and every key its input holds (rows that may come). -#}
{% macro every_key_if_rebuilt(producers, column, relations) -%}
    {%- for relation in relations %}
    select {{ column }} from {{ relation }} where {{ replaced_whole_since_cursor(producers) }}
    {%- if not loop.last %}
    union{% endif %}
    {%- endfor %}
{%- endmacro %}


{#- Post-hook: the cursor moves to the newest change the model has just consumed (the log
    and the records of `producers`). A build from scratch records the key column `*`: every
    key replaced (the readers' copy then copies whole). -#}
{% macro advance_cursor(producers=[]) -%}
    {%- set statements = [] -%}
    {%- if not is_incremental() %}
    {%- do statements.append("insert into " ~ replaced_keys_relation() ~ " select '" ~ this.name ~ "', '*', null, current_timestamp") %}
    {%- endif %}
    {%- if target.type != 'spark' %}{#- Spark's Parquet takes no delete: the cursor is the model's newest -#}
    {%- do statements.append("delete from " ~ cursors_relation() ~ " where model = '" ~ this.name ~ "'") %}
    {%- endif %}
    {%- set advance %}
    insert into {{ cursors_relation() }}
    select '{{ this.name }}', greatest(
        (select coalesce(max(rebuilt_at), {{ start_of_time() }}) from {{ ref('int_days_rebuilt') }}),
        (select coalesce(max(replaced_at), {{ start_of_time() }}) from {{ replaced_keys_relation() }}
         where model in ({% for p in producers %}'{{ p }}'{% if not loop.last %}, {% endif %}{% else %}null{% endfor %}))
    )
    {%- endset %}
    {%- do statements.append(advance) %}
    {{ return(hook_statements(statements)) }}
{%- endmacro %}


{#- An incremental run's rows: the rows of `rows` (a CTE) and a marker for each key of
    `keys` (a CTE of one column, `key`), a row with only the key set (macro
    get_incremental_replace_keys_sql). -#}
{% macro with_markers(rows, key, keys) -%}
    {{ return(adapter.dispatch('with_markers')(rows, key, keys)) }}
{%- endmacro %}

{% macro default__with_markers(rows, key, keys) -%}
select * from {{ rows }}
union all by name
select {{ key }} from {{ keys }}
{%- endmacro %}

{#- Spark has no union by name: the columns are the table's (a column new to the model
    reaches a Spark table by a full refresh). -#}
{% macro spark__with_markers(rows, key, keys) -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list if execute else [key] -%}
select {{ columns | join(', ') }} from {{ rows }}
union all
select {% for column in columns %}{{ key if column == key else 'null' }} as {{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
from {{ keys }}
{%- endmacro %}


{#- The statements recording what replacing the keys of `temp` in `target` changes
    (meta.replace_keys: record_replaced, record_changed), as a list. -#}
{% macro replace_keys_records(target, temp, key, dest_columns) -%}
    {%- set settings = config.get('meta', {}).get('replace_keys', {}) -%}
    {%- set marker = settings['marker_column'] -%}
    {%- set columns = dest_columns | map(attribute='quoted') | join(', ') -%}
    {%- set statements = [] -%}
    {%- for column in settings.get('record_replaced', []) %}
    {%- set statement %}
    insert into {{ replaced_keys_relation() }}
    select distinct '{{ this.name }}', '{{ column }}', cast({{ column }} as {{ dbt.type_string() }}), current_timestamp
    from (
        select {{ column }} from {{ target }} where {{ key }} in (select {{ key }} from {{ temp }})
        union all
        select {{ column }} from {{ temp }} where {{ marker }} is not null
    ) as replaced
    where {{ column }} is not null
    {%- endset %}
    {%- do statements.append(statement) %}
    {%- endfor %}
    {%- for column in settings.get('record_changed', []) %}
    {%- set statement %}
    insert into {{ replaced_keys_relation() }}
    select distinct '{{ this.name }}', '{{ column }}', cast({{ column }} as {{ dbt.type_string() }}), current_timestamp
    from (
        (select {{ columns }} from {{ target }} where {{ key }} in (select {{ key }} from {{ temp }})
         except
         select {{ columns }} from {{ temp }} where {{ marker }} is not null)
        union all
        (select {{ columns }} from {{ temp }} where {{ marker }} is not null
         except
         select {{ columns }} from {{ target }} where {{ key }} in (select {{ key }} from {{ temp }}))
    ) as changed
    where {{ column }} is not null
    {%- endset %}
    {%- do statements.append(statement) %}
    {%- endfor %}
    {{ return(statements) }}
{%- endmacro %}


{#- The strategy: records, delete, insert (dbt calls it with the query's rows in
    `temp_relation`). On Spark, whose strategies are fixed, the model names its strategy
    through keyed_strategy (macros/spark_writes.sql). -#}
{% macro get_incremental_replace_keys_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set marker = config.get('meta', {}).get('replace_keys', {})['marker_column'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- for statement in replace_keys_records(target, temp, key, arg_dict['dest_columns']) %}
    {{ statement }};
    {%- endfor %}
    delete from {{ target }} where {{ key }} in (select {{ key }} from {{ temp }});
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ temp }} where {{ marker }} is not null
{%- endmacro %}
