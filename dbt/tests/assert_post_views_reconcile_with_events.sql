{{ config(meta={'dagster': {'ref': {'name': 'agg_post_daily'}}}) }}
-- Fails with the days whose views in agg_post_daily differ from that day's post_viewed events.
with aggregated as (
    select event_date, sum(views) as views from {{ ref('agg_post_daily') }} group by event_date
),

counted as (
    select event_date, count(*) as views
    from {{ ref('stg_app__events') }}
    where event_name = 'post_viewed' and post_id is not null
        and event_date in (select event_date from aggregated)
    group by event_date
)

select coalesce(aggregated.event_date, counted.event_date) as event_date, aggregated.views, counted.views as events
from aggregated
full outer join counted on aggregated.event_date = counted.event_date
where aggregated.views is distinct from counted.views
