{#- The session funnel per day: sessions that viewed a page, then added a product, then
    started a checkout, then completed an order. A step counts only sessions that also
    reached every step before it, so the counts never increase along the funnel. -#}

with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

steps as (

    select
        session_date,
        count(*) as sessions,
        sum(case when page_view_count > 0 then 1 else 0 end) as viewed_sessions,
        sum(case when page_view_count > 0 and product_added_count > 0 then 1 else 0 end) as added_sessions,
        sum(
            case when page_view_count > 0 and product_added_count > 0 and checkout_started_count > 0 then 1 else 0 end
        ) as checkout_sessions,
        sum(
            case
                when page_view_count > 0 and product_added_count > 0 and checkout_started_count > 0 and order_completed_count > 0
                    then 1
                else 0
            end
        ) as ordered_sessions
    from sessions
    group by session_date

),

to_date as (

    select
        *,
        sum(viewed_sessions) over (order by session_date rows between unbounded preceding and current row) as viewed_sessions_to_date,
        sum(added_sessions) over (order by session_date rows between unbounded preceding and current row) as added_sessions_to_date,
        sum(checkout_sessions) over (order by session_date rows between unbounded preceding and current row) as checkout_sessions_to_date,
        sum(ordered_sessions) over (order by session_date rows between unbounded preceding and current row) as ordered_sessions_to_date
    from steps

),

final as (

    select
        session_date,
        sessions,
        viewed_sessions,
        added_sessions,
        checkout_sessions,
        ordered_sessions,
        {{ safe_ratio('added_sessions', 'viewed_sessions') }} as added_conversion,
        {{ safe_ratio('checkout_sessions', 'added_sessions') }} as checkout_conversion,
        {{ safe_ratio('ordered_sessions', 'checkout_sessions') }} as order_conversion,
        {{ safe_ratio('ordered_sessions', 'viewed_sessions') }} as overall_conversion,
        viewed_sessions - added_sessions as added_drop_off,
        added_sessions - checkout_sessions as checkout_drop_off,
        checkout_sessions - ordered_sessions as order_drop_off,
        viewed_sessions_to_date,
        added_sessions_to_date,
        checkout_sessions_to_date,
        ordered_sessions_to_date,
        {{ safe_ratio('ordered_sessions_to_date', 'viewed_sessions_to_date') }} as overall_conversion_to_date
    from to_date

)

select * from final
