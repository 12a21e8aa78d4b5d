{{
    config(
        materialized='incremental',
        incremental_strategy=keyed_strategy('replace_keys'),
        unique_key='visitor_id',
        meta={'replace_keys': {'marker_column': 'conversion_event_id', 'record_replaced': ['conversion_date']}},
        post_hook="{{ advance_cursor(['fct_sessions']) }}",
    )
}}

{#- Each conversion (order_completed) with its touches: the same visitor's sessions that
    started in the `attribution_lookback_days` before it (its own session included), and
    the credit each attribution model gives each touch (docs/metrics.md). Kept by visitor
    (macros/incremental_changes.sql): a run recomputes the visitors whose sessions
    fct_sessions replaced since its last run, and records their conversion days for
    agg_attribution_daily. -#}

-- depends_on: {{ ref('int_days_rebuilt') }}

{%- set lookback_seconds = var('attribution_lookback_days') * 86400 %}
{%- set half_life_seconds = var('attribution_half_life_days') * 86400 %}

with

{% if is_incremental() %}
touched_visitors as (

    select key_value as visitor_id from {{ replaced_since_cursor('fct_sessions', 'visitor_id') }}
    -- fct_sessions rebuilt from scratch: every visitor
    union
    {{ every_key_if_rebuilt('fct_sessions', 'visitor_id', [this, ref('fct_sessions')]) }}

),
{% endif %}

device_conversions as (

    select * from {{ ref('int_conversions') }}
    {{ without_runaway_devices() }}

),

conversions as (

    {{ with_visitor('device_conversions') }}

),

sessions as (

    select session_id, visitor_id, session_start_at, utm_source, utm_medium, utm_campaign
    from {{ ref('fct_sessions') }}
    {% if is_incremental() -%}
    where visitor_id in (select visitor_id from touched_visitors)
    {%- endif %}

),

touches as (

    select
        conversions.conversion_event_id,
        conversions.order_id,
        conversions.visitor_id,
        conversions.converted_at,
        conversions.conversion_date,
        conversions.revenue,
        sessions.session_id,
        sessions.session_start_at,
        coalesce(sessions.utm_source, 'direct') as channel,
        sessions.utm_source,
        sessions.utm_medium,
        sessions.utm_campaign,
        {{ elapsed_microseconds('sessions.session_start_at', 'conversions.converted_at') }} / 1e6 as seconds_before_conversion
    from conversions
    inner join sessions
        on conversions.visitor_id = sessions.visitor_id
            and sessions.session_start_at <= conversions.converted_at
            and {{ elapsed_microseconds('sessions.session_start_at', 'conversions.converted_at') }} / 1e6 <= {{ lookback_seconds }}

),

numbered as (

    select
        *,
        cast(row_number() over by_conversion as bigint) as touch_number,
        count(*) over (partition by conversion_event_id) as touches,
        pow(0.5, seconds_before_conversion / {{ half_life_seconds }}) as decay_weight
    from touches
    window by_conversion as (partition by conversion_event_id order by session_start_at, session_id)

),

credited as (

    select
        *,
        cast(case when touch_number = 1 then 1 else 0 end as double) as first_touch_credit,
        cast(case when touch_number = touches then 1 else 0 end as double) as last_touch_credit,
        cast(1 as double) / touches as linear_credit,
        case
            when touches = 1 then cast(1 as double)
            when touches = 2 then cast(0.5 as double)
            when touch_number = 1 or touch_number = touches then cast(0.4 as double)
            else cast(0.2 as double) / (touches - 2)
        end as position_based_credit,
        -- summed in touch order: the same figure however the rows arrive
        decay_weight / sum(decay_weight) over (
            partition by conversion_event_id order by session_start_at, session_id
            rows between unbounded preceding and unbounded following
        ) as time_decay_credit
    from numbered

),

final as (

    select
        -- ids
        conversion_event_id,
        session_id,
        order_id,
        visitor_id,

        -- the touch
        touch_number,
        touches,
        channel,
        utm_source,
        utm_medium,
        utm_campaign,
        seconds_before_conversion / 86400.0 as days_before_conversion,

        -- credits (each sums to 1 over a conversion's touches)
        first_touch_credit,
        last_touch_credit,
        linear_credit,
        position_based_credit,
        time_decay_credit,

        -- revenue credited (each sums to the conversion's revenue)
        revenue,
        revenue * first_touch_credit as first_touch_revenue,
        revenue * last_touch_credit as last_touch_revenue,
        revenue * linear_credit as linear_revenue,
        revenue * position_based_credit as position_based_revenue,
        revenue * time_decay_credit as time_decay_revenue,

        -- timestamps
        session_start_at,
        converted_at,
        conversion_date

    from credited
    {% if is_incremental() -%}
    where visitor_id in (select visitor_id from touched_visitors)
    {%- endif %}

)

{% if is_incremental() %}
-- a marker per touched visitor: its rows are replaced even when it has none left
{{ with_markers('final', 'visitor_id', 'touched_visitors') }}
{% else %}
select * from final
{% endif %}
