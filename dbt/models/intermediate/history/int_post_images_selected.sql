{{ config(materialized='view', tags=['snapshot_input']) }}

{#- The posts table as one daily image shows it: what snap_posts records. -#}

{{ latest_daily_image(ref('stg_app__posts')) }}
