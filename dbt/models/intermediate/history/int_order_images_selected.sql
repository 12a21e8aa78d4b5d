{{ config(materialized='view', tags=['snapshot_input']) }}

{#- The orders table as one daily image shows it: what snap_orders records. -#}

{{ latest_daily_image(ref('stg_app__orders')) }}
