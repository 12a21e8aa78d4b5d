{#- The rows of one daily image of an operational table: the image of the day Dagster
    snapshots (environment variable PA_SNAPSHOT_IMAGE_DATE, see snapshot_get_time), else
    the latest. -#}
{% macro latest_daily_image(images) -%}
with

images as (

    select * from {{ images }}

),

latest as (

    {% if env_var('PA_SNAPSHOT_IMAGE_DATE', '') -%}
    select cast('{{ env_var("PA_SNAPSHOT_IMAGE_DATE") }}' as date) as snapshot_date
    {%- else -%}
    select max(snapshot_date) as snapshot_date from images
    {%- endif %}

)

select images.*
from images
inner join latest on images.snapshot_date = latest.snapshot_date
{%- endmacro %}
