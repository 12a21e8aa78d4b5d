{#-
    How the incremental models write on Spark (docs/scale.md). Spark's Parquet tables take
    no delete or update, and a statement may not overwrite a table it reads, so a write
    goes in steps:

    1. the model's rows (the batch, or the keys it recomputes) are written to a work
       table `<model>__pa_rows`;
    2. a daily (microbatch) model overwrites its batch's day partition from it, with a
       static partition clause: the day is replaced whole, emptied if it has no row now;
    3. a model kept by key (delete+insert, replace_keys) writes its change records, then
       the rows it keeps (the keys it does not recompute) and the new rows to a second
       work table `<model>__pa_table`, and overwrites the table from it;
    4. the work tables are dropped.

    dbt-spark accepts only its own strategies: a model kept by key names its strategy
    through keyed_strategy, which is `insert_overwrite` on Spark and the model's own on
    DuckDB. The steps run inside get_insert_overwrite_sql (dbt-spark's, overridden here),
    which returns a last statement of no effect for dbt to run.
-#}

{#- The incremental strategy of a model kept by key. -#}
{% macro keyed_strategy(strategy) -%}
    {{ return('insert_overwrite' if target.type == 'spark' else strategy) }}
{%- endmacro %}


{#- A hook's statements: joined on DuckDB; on Spark, which runs one statement at a time,
    all but the last run here and the last is returned. -#}
{% macro hook_statements(statements) -%}
    {%- if target.type == 'spark' -%}
        {%- if execute -%}
            {%- for statement in statements[:-1] -%}
                {%- do run_query(statement) -%}
            {%- endfor -%}
        {%- endif -%}
        {{ return(statements[-1]) }}
    {%- else -%}
        {{ return(statements | join(';\n')) }}
    {%- endif -%}
{%- endmacro %}


{% macro pa_work_table(relation, suffix) -%}
    {{ return(relation.incorporate(path={'identifier': relation.identifier ~ '__pa_' ~ suffix}, type='table')) }}
{%- endmacro %}


{% macro pa_replace_work_table(work, select_sql) -%}
    {%- do run_query('drop table if exists ' ~ work) -%}
    {%- do run_query('create table ' ~ work ~ ' using parquet as ' ~ select_sql) -%}
{%- endmacro %}


{% macro get_insert_overwrite_sql(source_relation, target_relation, existing_relation) -%}
    {%- set columns = adapter.get_columns_in_relation(target_relation) -%}
    {%- set column_list = columns | map(attribute='quoted') | join(', ') -%}
    {%- set partition = config.get('partition_by') -%}
    {%- set key = config.get('unique_key') -%}
    {%- set batch = batch_window() -%}
    {%- set rows = pa_work_table(target_relation, 'rows') -%}
    {%- do pa_replace_work_table(rows, 'select * from ' ~ source_relation) -%}
    {%- if batch and partition is string -%}
        {%- do run_query(
            'insert overwrite table ' ~ target_relation ~ " partition (" ~ partition ~ " = date '" ~ batch.start[:10] ~ "') select "
            ~ (columns | rejectattr('name', 'equalto', partition) | map(attribute='quoted') | join(', ')) ~ ' from ' ~ rows) -%}
    {%- elif key is string -%}
        {%- set settings = config.get('meta', {}).get('replace_keys') -%}
        {%- if settings -%}
            {%- for statement in replace_keys_records(target_relation, rows, key, columns) -%}
                {%- do run_query(statement) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set table = pa_work_table(target_relation, 'table') -%}
        {%- set kept_and_new -%}
            select {{ column_list }} from {{ target_relation }}
            where not exists (select 1 from {{ rows }} where {{ rows }}.{{ key }} = {{ target_relation }}.{{ key }})
            union all
            select {{ column_list }} from {{ rows }}
            {%- if settings %} where {{ settings['marker_column'] }} is not null{% endif %}
        {%- endset -%}
        {%- do pa_replace_work_table(table, kept_and_new) -%}
        {%- do run_query('insert overwrite table ' ~ target_relation ~ ' select ' ~ column_list ~ ' from ' ~ table) -%}
        {%- do run_query('drop table if exists ' ~ table) -%}
    {%- else -%}
        {%- do exceptions.raise_compiler_error(
            "an insert_overwrite model needs a batch and a partition_by column, or a unique_key (macros/spark_writes.sql)") -%}
    {%- endif -%}
    {%- do run_query('drop table if exists ' ~ rows) -%}
    refresh table {{ target_relation }}
{%- endmacro %}
