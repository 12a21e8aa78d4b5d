{{ config(materialized='view', tags=['snapshot_input']) }}

{#- The users table as one daily image shows it: what snap_users records. -#}

{{ latest_daily_image(ref('stg_app__users')) }}
