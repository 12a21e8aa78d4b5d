{#-
    The daily run tests the days it built. A generic test of a model partitioned by day (its
    `event_time`, or `meta.window_column` for the staging views) reads only the rows of the
    run's window (the event-time flags, already widened by the margin); its `where` config
    still applies. Without the flags (the unpartitioned step, a checks-only launch, dbt by
    hand) tests read everything. Properties across days are tested on the marts, whole:
    `unique_fct_events_event_id` is every event id's uniqueness over all history.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set window = run_window() -%}
    {%- set tested_id = model.get('attached_node') if model is mapping else none -%}
    {%- if window and execute and tested_id and tested_id in graph.nodes -%}
        {%- set tested = graph.nodes[tested_id].config -%}
        {%- set column = tested.get('event_time') or (tested.get('meta') or {}).get('window_column') -%}
        {%- if column -%}
            {%- do filters.append(in_window(window, column)) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if filters -%}
        {%- set filtered -%}
        (select * from {{ relation }} where {{ filters | join(' and ') }}) as dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
