{{ config(materialized='view') }}

{#- One row per day, the time spine MetricFlow joins metrics to (models/semantic): from
    2000 to a year from today, computed when read. -#}

select cast(day.range as date) as date_day
from range(timestamp '2000-01-01', cast(current_date + interval 366 day as timestamp), interval 1 day) as day
