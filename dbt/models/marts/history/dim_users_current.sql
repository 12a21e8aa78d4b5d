{#- The current version of every user still in the product (soft-deleted users removed). -#}
select * from {{ ref('dim_users') }}
where is_current and not is_deleted
