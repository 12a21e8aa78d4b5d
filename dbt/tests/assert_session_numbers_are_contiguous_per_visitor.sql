-- Fails with the visitors whose session numbers are not exactly 1, 2, ..., n.
select
    visitor_id, count(*) as sessions, min(session_number) as first_number, max(session_number) as last_number,
    count(distinct session_number) as distinct_numbers
from {{ ref('fct_sessions') }}
group by visitor_id
having min(session_number) != 1 or max(session_number) != count(*) or count(distinct session_number) != count(*)
