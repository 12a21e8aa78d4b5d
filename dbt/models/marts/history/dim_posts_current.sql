{#- The current version of every post that still exists (hard-deleted posts removed). -#}
select * from {{ ref('dim_posts') }}
where is_current and not is_deleted
