{#- The rows of one daily image of an operational table: the image of
    `snapshot_image_date` when Dagster replays the days of a backfill, else the latest. -#}
{% macro latest_daily_image(images) -%}
with

images as (

    select * from {{ images }}

),

latest as (

    {% if var('snapshot_image_date', none) -%}
    select cast('{{ var("snapshot_image_date") }}' as date) as snapshot_date
    {%- else -%}
    select max(snapshot_date) as snapshot_date from images
    {%- endif %}

)

select images.*
from images
inner join latest on images.snapshot_date = latest.snapshot_date
{%- endmacro %}
