{{ config(meta={'dagster': {'ref': {'name': 'agg_post_daily'}}}) }}
-- Fails with the days whose views in agg_post_daily differ from that day's post_viewed events
-- (in the daily run: the days of its window).
with aggregated as (
    select event_date, sum(views) as views
    from {{ ref('agg_post_daily') }}
    where {{ in_run_window('event_date') }}
    group by event_date
),

counted as (
    select events.event_date, count(*) as views
    from {{ ref('stg_app__events') }} as events
    where
        events.event_name = 'post_viewed' and events.post_id is not null
        and {{ in_run_window('events.event_date') }}
        and events.event_date in (select aggregated.event_date from aggregated)
    group by events.event_date
)

select coalesce(aggregated.event_date, counted.event_date) as event_date, aggregated.views, counted.views as events
from aggregated
full outer join counted on aggregated.event_date = counted.event_date
where aggregated.views is distinct from counted.views
