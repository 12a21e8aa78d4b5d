{{ config(materialized='view', tags=['snapshot_input']) }}

{#- The orders table as one daily image shows it: what the snapshot records. The image
    of `snapshot_image_date` when Dagster replays the days of a backfill, else the latest. -#}

with

images as (

    select * from {{ ref('stg_app__orders') }}

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
