{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        begin=var('start_date'),
        event_time='conversion_date',
        partition_by=day_partition('conversion_date'),
        tags=['daily'],
    )
}}

{#- The conversions: one row per order_completed event, with its device, order and
    revenue (daily). fct_conversion_attribution reads these instead of the events. -#}

select
    event_id as conversion_event_id,
    anonymous_id,
    order_id,
    revenue,
    event_at as converted_at,
    event_date as conversion_date
from {{ ref('stg_app__events') }}
where event_name = 'order_completed'
    and {{ in_batch_window('event_date') }}
