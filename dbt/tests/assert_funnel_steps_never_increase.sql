-- Fails with the days on which a later step of the session funnel counts more sessions
-- than the step before it (per day or to date).
select *
from {{ ref('agg_product_funnel_daily') }}
where added_sessions > viewed_sessions
    or checkout_sessions > added_sessions
    or ordered_sessions > checkout_sessions
    or added_sessions_to_date > viewed_sessions_to_date
    or checkout_sessions_to_date > added_sessions_to_date
    or ordered_sessions_to_date > checkout_sessions_to_date
