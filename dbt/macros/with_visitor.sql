{#-
    The rows of `relation` (a ref or a CTE name; it has an `anonymous_id`) with the
    visitor they belong to as the identity map stands now (docs/sessions.md): the user
    the device was last seen with (null while anonymous), named `user_id_as`, and
    `visitor_id`, that user, else the device. The one place the visitor rule is written.
-#}
{% macro with_visitor(relation, user_id_as='identified_user_id') -%}
    select
        unmapped.*,
        identity_map.user_id as {{ user_id_as }},
        coalesce(identity_map.user_id, unmapped.anonymous_id) as visitor_id
    from {{ relation }} as unmapped
    left join {{ ref('int_anonymous_ids_mapped') }} as identity_map
        on unmapped.anonymous_id = identity_map.anonymous_id
{%- endmacro %}
