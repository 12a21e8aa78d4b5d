{#-
    SCD2 validity windows of `key`: fails with every version whose window is empty or
    reversed, that overlaps the next version of its key, or that is a second current
    version of its key.
-#}
{% test scd2_windows(model, key, valid_from='valid_from', valid_to='valid_to') %}
with ordered as (
    select
        {{ key }} as entity_key,
        {{ valid_from }} as window_start,
        {{ valid_to }} as window_end,
        lead({{ valid_from }}) over (partition by {{ key }} order by {{ valid_from }}) as next_start,
        sum(case when {{ valid_to }} is null then 1 else 0 end) over (partition by {{ key }}) as current_versions
    from {{ model }}
)

select *
from ordered
where window_end <= window_start
    or (next_start is not null and (window_end is null or window_end > next_start))
    or current_versions > 1
{% endtest %}
