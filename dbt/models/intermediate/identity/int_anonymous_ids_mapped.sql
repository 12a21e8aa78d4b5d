{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('replace_keys'),
        unique_key='anonymous_id',
        meta={'replace_keys': {'marker_column': 'user_id', 'record_replaced': ['anonymous_id']}},
        post_hook="{{ advance_cursor() }}",
    )
}}

{#- Every identified anonymous id and the user it belongs to: the user it was
    last seen with wins, so a later identify re-attributes earlier activity.
    Kept by anonymous id (macros/incremental_changes.sql): a run recomputes, from all
    their links, the ids linked on a day rebuilt since its last run, and the ids whose
    links spanned such a day (one of them may have gone). -#}

-- depends_on: {{ ref('int_days_rebuilt') }}

with

{% if is_incremental() %}
rebuilt_days as (

    select rebuilt_date from {{ days_rebuilt_since_cursor() }}

),

candidates as (

    select distinct anonymous_id
    from {{ ref('int_anonymous_ids_linked') }}
    where event_date in (select rebuilt_date from rebuilt_days)

    union

    select anonymous_id
    from {{ this }} as mapped
    where exists (
        select 1 from rebuilt_days
        where rebuilt_date between cast(mapped.first_identified_at as date) and cast(mapped.last_identified_at as date)
    )

),
{% endif %}

links as (

    select * from {{ ref('int_anonymous_ids_linked') }}
    {% if is_incremental() -%}
    where anonymous_id in (select anonymous_id from candidates)
    {%- endif %}

),

per_user as (

    select
        anonymous_id,
        user_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from links
    group by anonymous_id, user_id

),

ranked as (

    select
        *,
        row_number() over (partition by anonymous_id order by last_seen_at desc, user_id desc) as recency_rank,
        count(*) over (partition by anonymous_id) as user_count,
        min(first_seen_at) over (partition by anonymous_id) as first_identified_at
    from per_user

),

mapped as (

    select
        anonymous_id,
        user_id,
        user_count,
        first_identified_at,
        last_seen_at as last_identified_at
    from ranked
    where recency_rank = 1

),

final as (

    select * from mapped
    {% if is_incremental() %}
    union all
    -- markers: candidates left without any link
    select anonymous_id, null, null, null, null
    from candidates
    where anonymous_id not in (select anonymous_id from mapped)
    {% endif %}

)

select * from final
