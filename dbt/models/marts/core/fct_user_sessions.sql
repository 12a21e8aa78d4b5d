{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('replace_keys'),
        unique_key='visitor_id',
        meta={'replace_keys': {'marker_column': 'session_count'}},
        post_hook="{{ advance_cursor(['fct_sessions']) }}",
    )
}}

{#- One row per visitor. Kept by visitor (macros/incremental_changes.sql): a run
    recomputes the visitors whose sessions fct_sessions replaced since its last run. -#}

-- depends_on: {{ ref('int_days_rebuilt') }}

with

{% if is_incremental() %}
touched_visitors as (

    select key_value as visitor_id from {{ replaced_since_cursor('fct_sessions', 'visitor_id') }}
    -- fct_sessions rebuilt from scratch: every visitor
    union
    {{ every_key_if_rebuilt('fct_sessions', 'visitor_id', [this, ref('fct_sessions')]) }}

),
{% endif %}

sessions as (

    select * from {{ ref('fct_sessions') }}
    {% if is_incremental() -%}
    where visitor_id in (select visitor_id from touched_visitors)
    {%- endif %}

),

final as (

    select
        visitor_id,
        max(user_id) as user_id,
        min(session_date) as first_session_date,
        max(session_date) as last_session_date,
        count(*) as session_count,
        avg(duration_seconds) as avg_session_duration_seconds,
        sum(event_count) as event_count
    from sessions
    group by visitor_id

)

{% if is_incremental() %}
-- a marker per touched visitor: its row goes when it has no session left
{{ with_markers('final', 'visitor_id', 'touched_visitors') }}
{% else %}
select * from final
{% endif %}
