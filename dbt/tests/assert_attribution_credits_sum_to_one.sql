-- Fails with the conversions of fct_conversion_attribution whose touches do not add up:
-- each model's credits sum to 1 and its revenue to the conversion's revenue, the touches
-- are numbered 1..n (that every conversion has a touch, the end-to-end test checks
-- against fct_events: a test here reading the daily conversions would run before this mart).
with

per_conversion as (

    select
        conversion_event_id,
        count(*) as rows_held,
        max(touches) as touches,
        max(touch_number) as last_touch_number,
        min(touch_number) as first_touch_number,
        sum(first_touch_credit) as first_touch,
        sum(last_touch_credit) as last_touch,
        sum(linear_credit) as linear,
        sum(position_based_credit) as position_based,
        sum(time_decay_credit) as time_decay,
        max(revenue) as revenue,
        greatest(
            abs(sum(first_touch_revenue) - max(revenue)),
            abs(sum(last_touch_revenue) - max(revenue)),
            abs(sum(linear_revenue) - max(revenue)),
            abs(sum(position_based_revenue) - max(revenue)),
            abs(sum(time_decay_revenue) - max(revenue))
        ) as revenue_gap
    from {{ ref('fct_conversion_attribution') }}
    group by conversion_event_id

)

select *
from per_conversion
where per_conversion.rows_held != per_conversion.touches
    or per_conversion.first_touch_number != 1
    or per_conversion.last_touch_number != per_conversion.touches
    or greatest(
        abs(per_conversion.first_touch - 1),
        abs(per_conversion.last_touch - 1),
        abs(per_conversion.linear - 1),
        abs(per_conversion.position_based - 1),
        abs(per_conversion.time_decay - 1)
    ) > 1e-9
    or per_conversion.revenue_gap > 1e-9 * greatest(1, abs(per_conversion.revenue))
