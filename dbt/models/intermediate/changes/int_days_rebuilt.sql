{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        begin=var('start_date'),
        event_time='rebuilt_date',
        partition_by=day_partition('rebuilt_date'),
        tags=['daily'],
    )
}}

-- depends_on: {{ ref('int_sessions_aggregated') }}
-- depends_on: {{ ref('int_device_days_aggregated') }}
-- depends_on: {{ ref('int_device_platform_days') }}
-- depends_on: {{ ref('int_conversions') }}
-- depends_on: {{ ref('int_anonymous_ids_linked') }}
-- depends_on: {{ ref('fct_event_paths') }}
-- depends_on: {{ ref('int_play_sessions_paired') }}

{#- One row per day the daily models rebuilt, and when (the last time): built after the
    models that the marts kept by key and the readers' copy read, so a day is logged only
    once they hold it. Every batch writes its row, an empty day's too: that is how a mart
    learns a day lost rows. The marts read the days logged after their cursor
    (macros/incremental_changes.sql). -#}

{%- set batch = batch_window() %}

select
    cast('{{ batch.start if batch else "1900-01-01" }}' as date) as rebuilt_date,
    current_timestamp as rebuilt_at
{%- if not batch %}
where false
{%- endif %}
