{{ config(materialized='view') }}

{#- One row per day, the time spine MetricFlow joins metrics to (models/semantic): from
    2000 to a year from today, computed when read. -#}

select date_day
from {{ day_series("date '2000-01-01'", dbt.dateadd('day', 366, 'current_date')) }} as days
