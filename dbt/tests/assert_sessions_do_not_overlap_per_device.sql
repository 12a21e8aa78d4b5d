-- Fails with every pair of consecutive sessions of one device that overlap in time:
-- a device is in at most one session at a time.
with ordered as (
    select
        anonymous_id,
        session_id,
        session_start_at,
        session_end_at,
        lead(session_start_at) over (partition by anonymous_id order by session_start_at) as next_start_at
    from {{ ref('fct_sessions') }}
)

select *
from ordered
where next_start_at <= session_end_at
