-- Fails with the rows of agg_active_users_daily whose counts disagree: dau <= wau <= mau
-- with mau at least 1, no negative lifecycle count, a platform's dau at most the total's,
-- and the visitors active the day before split exactly into returning and dormant ones.
with

active as (

    select * from {{ ref('agg_active_users_daily') }}

)

select active.*, day_before.dau as dau_day_before, total.dau as dau_all_platforms
from active
left join active as day_before
    on active.platform = day_before.platform and active.activity_date - 1 = day_before.activity_date
left join active as total
    on total.platform = 'all' and active.activity_date = total.activity_date
where not (1 <= active.mau and active.wau <= active.mau and active.dau <= active.wau)
    or least(active.new_users, active.returning_users, active.resurrecting_users, active.dormant_users) < 0
    or active.returning_users + active.dormant_users != coalesce(day_before.dau, 0)
    or total.dau is null
    or active.dau > total.dau
