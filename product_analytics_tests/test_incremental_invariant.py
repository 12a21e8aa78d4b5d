"""The invariant of incremental processing (docs/sessions.md).

For an arrival pattern (when each daily run happens, hence which late events it
sees) and a lookback, the warehouse must end up row for row equal to a full
refresh over the same raw data, whether the days were processed

* one by one in order, each run re-ingesting and rebuilding its lookback window,
* as a backfill split in two runs, the later half first,
* or in order and then with arbitrary windows re-run.

Runs dbt in-process on a small simulated week; the patterns come from a seeded
generator, so a failure names the seed that reproduces it.
"""

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from product_analytics.ingestion.load import event_day_stats, load_events_day
from product_analytics.ingestion.sources import simulator_export
from product_analytics.publishing.copy import publish
from product_analytics.simulator import LandingWriter, SimulationConfig
from product_analytics.simulator.landing import events_file
from product_analytics_tests.conftest import START
from product_analytics_tests.harness import VARS, Warehouse

DAYS = [date(2026, 3, 20) + timedelta(days=i) for i in range(7)]
COMPARED = [
    "intermediate.int_events_sessionized",
    "intermediate.int_sessions_aggregated",
    "intermediate.int_anonymous_ids_linked",
    "intermediate.int_anonymous_ids_mapped",
    "marts.fct_events",
    "marts.fct_sessions",
    "marts.fct_event_paths",
    "marts.fct_user_sessions",
    "marts.agg_product_funnel_daily",
    "intermediate.int_visitor_active_days",
    "marts.agg_active_users_daily",
    "marts.fct_conversion_attribution",
    "marts.agg_attribution_daily",
]
# What the readers' copy takes by change (publishing/copy.py), and marts read with them.
PUBLISHED = ["marts.fct_events", "marts.fct_event_paths", "marts.fct_sessions", "marts.fct_user_sessions", "marts.agg_product_funnel_daily"]


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    root = tmp_path_factory.mktemp("invariant")
    LandingWriter(SimulationConfig(seed=5, epoch=START, daily_users=60), root / "landing", root / "truth").write_days(DAYS)
    add_cross_day_resends(root / "landing")
    return root


def add_cross_day_resends(landing: Path, shift_days: int = 3, per_day: int = 12) -> None:
    """Copies of messages on another day than their original, as a resend with a new
    event time makes them: some of a day's messages again ``shift_days`` later (received
    a minute after that time: usually later than the original, earlier when the original
    waited offline for days), and some ``shift_days`` earlier (received two hours after
    the original: always later)."""
    with duckdb.connect() as conn:
        originals = {d: conn.sql(f"from read_parquet('{events_file(landing, d)}')").to_arrow_table() for d in DAYS}
        for day in DAYS:
            none = originals[day].slice(0, 0)
            conn.register("this_day", originals[day])
            conn.register("days_before", originals.get(day - timedelta(days=shift_days), none))  # resent with a later time
            conn.register("days_after", originals.get(day + timedelta(days=shift_days), none))  # resent with an earlier time
            shift = f"interval {shift_days} day"
            conn.execute(
                f"""
                copy (
                    from this_day
                    union all by name
                    (select * replace ("timestamp" + {shift} as "timestamp", "timestamp" + {shift} + interval 1 minute as received_at)
                     from days_before order by message_id limit {per_day})
                    union all by name
                    (select * replace ("timestamp" - {shift} as "timestamp", received_at + interval 2 hour as received_at)
                     from days_after order by message_id limit {per_day})
                ) to '{events_file(landing, day)}' (format parquet)
                """
            )


def process_in_order(warehouse: Warehouse, week: Path, rng: random.Random, lookback: int, copy: Path | None = None) -> None:
    """The daily schedule: each run re-ingests its lookback window at its own clock; with
    ``copy``, each run ends with the readers' copy, which must equal the warehouse."""
    clock = datetime.combine(DAYS[0], datetime.min.time())
    for day in DAYS:
        clock = max(clock, datetime.combine(day + timedelta(days=1), datetime.min.time()) + timedelta(hours=rng.uniform(0.5, 30)))
        first = max(DAYS[0], day - timedelta(days=lookback))
        with duckdb.connect(str(warehouse.path)) as conn:
            d = first
            while d <= day:
                load_events_day(conn, d, simulator_export(events_file(week / "landing", d), d, clock))
                d += timedelta(days=1)
        warehouse.build_days(first, day, refresh=True)
        if copy is not None:
            with duckdb.connect(str(warehouse.path)) as conn:
                assert publish(conn, copy).by_change is (day != DAYS[0])
            assert_same_tables(
                Warehouse(copy), warehouse, f"the readers' copy after the run of {day}", [*PUBLISHED, "marts.fct_play_sessions"]
            )


def assert_same_tables(actual: Warehouse, expected: Warehouse, scenario: str, tables: list[str] = COMPARED) -> None:
    with duckdb.connect() as conn:
        for table in tables:
            conn.register("a", actual.table(table))
            conn.register("e", expected.table(table))
            a, e = conn.execute("select (select count(*) from a), (select count(*) from e)").fetchall()[0]
            extra = conn.execute("select count(*) from (from a except all from e)").fetchall()[0][0]
            missing = conn.execute("select count(*) from (from e except all from a)").fetchall()[0][0]
            assert (a, extra, missing) == (e, 0, 0), f"{scenario}: {table} has {a} rows vs {e}, {extra} extra, {missing} missing"
            assert e > 0, table
        for table in {"intermediate.int_events_sessionized", "marts.fct_events"} & set(tables):
            conn.register("a", actual.table(table))
            rows, ids = conn.execute("select count(*), count(distinct event_id) from a").fetchall()[0]
            assert rows == ids, f"{scenario}: {table} holds {rows - ids} messages twice"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_runs_equal_a_full_refresh(week, tmp_path, seed):
    rng = random.Random(seed)
    lookback = rng.choice([1, 2, 3])

    daily = Warehouse(tmp_path / "daily.duckdb")
    process_in_order(daily, week, rng, lookback, copy=tmp_path / "readers.duckdb")

    reference = Warehouse(tmp_path / "reference.duckdb")
    reference.copy_raw_from(daily)
    reference.build_days(DAYS[0], DAYS[-1], full_refresh=True, refresh=True)
    with duckdb.connect() as conn:
        conn.register("raw_events", daily.table("raw.events"))
        late_loaded = conn.sql("select count(*) from raw_events where received_at >= event_date + interval 1 day").fetchall()[0][0]
        resent = conn.sql("select count(*) from raw_events group by message_id having count(*) > 1").fetchall()
    assert late_loaded > 0, "the pattern must bring late events for the invariant to mean anything"
    assert len(resent) > 0, "the pattern must bring messages on two days"
    assert_same_tables(daily, reference, f"days in order (seed {seed}, lookback {lookback})")
    assert_active_users_follow_their_definition(reference)

    backfill = Warehouse(tmp_path / "backfill.duckdb")
    backfill.copy_raw_from(daily)
    middle = DAYS[rng.randrange(1, len(DAYS) - 1)]
    backfill.build_days(middle, DAYS[-1], refresh=True)
    backfill.build_days(DAYS[0], middle - timedelta(days=1), refresh=True)
    assert_same_tables(backfill, reference, f"backfill in two runs split at {middle} (seed {seed})")

    reruns = []
    for _ in range(3):
        first = DAYS[rng.randrange(len(DAYS))]
        last = min(DAYS[-1], first + timedelta(days=rng.randrange(3)))
        daily.build_days(first, last, refresh=True)
        reruns.append(f"{first}..{last}")
    assert_same_tables(daily, reference, f"after re-running {', '.join(reruns)} (seed {seed})")


def assert_active_users_follow_their_definition(warehouse: Warehouse) -> None:
    """agg_active_users_daily equals its definitions (docs/metrics.md) written out
    literally over fct_events: a visitor's days per platform and in total, each count a
    distinct count over the days it names."""
    with duckdb.connect() as conn:
        conn.register("events", warehouse.table("marts.fct_events"))
        conn.register("agg", warehouse.table("marts.agg_active_users_daily"))
        expected = conn.sql(
            """
            with active as (
                select distinct visitor_id, platform, event_date as day from events
                union
                select distinct visitor_id, 'all', event_date from events
            ),
            firsts as (select visitor_id, platform, min(day) as first_day from active group by all),
            calendar as (
                select p.platform, cast(d.range as date) as day
                from (select distinct platform from active) as p,
                     range(
                         (select min(day) from active)::timestamp,
                         (select max(day) from active)::timestamp + interval 1 day,
                         interval 1 day
                     ) as d
            ),
            flags as (
                select c.platform, c.day, a.visitor_id,
                    bool_or(a.day = c.day) as today, bool_or(a.day = c.day - 1) as yesterday,
                    bool_or(a.day between c.day - 6 and c.day) as week, bool_or(a.day between c.day - 27 and c.day) as month,
                    any_value(f.first_day) as first_day
                from calendar as c
                join active as a on a.platform = c.platform and a.day between c.day - 27 and c.day
                join firsts as f on f.visitor_id = a.visitor_id and f.platform = a.platform
                group by all
            )
            select day as activity_date, platform,
                count(*) filter (today) as dau, count(*) filter (week) as wau, count(*) filter (month) as mau,
                count(*) filter (today and first_day = day) as new_users,
                count(*) filter (today and yesterday) as returning_users,
                count(*) filter (today and not yesterday and first_day < day) as resurrecting_users,
                count(*) filter (yesterday and not today) as dormant_users
            from flags group by all
            """
        ).to_arrow_table()
        conn.register("expected", expected)
        columns = "activity_date, platform, dau, wau, mau, new_users, returning_users, resurrecting_users, dormant_users"
        extra = conn.sql(f"select count(*) from (select {columns} from agg except all select {columns} from expected)").fetchall()[0][0]
        missing = conn.sql(f"select count(*) from (select {columns} from expected except all select {columns} from agg)").fetchall()[0][0]
        days, platforms = conn.sql("select count(distinct activity_date), count(distinct platform) from agg").fetchall()[0]
    assert (extra, missing) == (0, 0), f"agg_active_users_daily: {extra} rows not in its definition, {missing} missing"
    assert days == len(DAYS) and platforms >= 3, (days, platforms)


def test_a_late_event_continuing_yesterdays_session_reaches_it(tmp_path):
    """Regression guard: a run whose window starts on day D must rebuild the sessions of D-1,
    because a late event of D can continue a session that started on D-1."""
    x = date(2026, 3, 20)
    at = lambda day, hhmm: datetime.combine(day, datetime.min.time()) + timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[3:]))  # noqa: E731
    messages = [  # (id, event time, received at)
        ("m1", at(x, "23:40"), at(x, "23:40")),
        ("m2", at(x, "23:55"), at(x, "23:55")),
        ("m3", at(x + timedelta(days=1), "00:10"), at(x + timedelta(days=1), "00:10")),
        # Sent from a phone that was offline: it arrives after the run of day x+1.
        ("m4", at(x + timedelta(days=1), "00:35"), at(x + timedelta(days=2), "12:00")),
    ]

    def ingest(warehouse: Warehouse, days: list[date], clock: datetime) -> None:
        with duckdb.connect(str(warehouse.path)) as conn:
            for day in days:
                conn.execute("delete from raw.events where event_date = ?", [day])
                for message_id, event_at, received_at in messages:
                    if event_at.date() == day and received_at <= clock:
                        conn.execute(
                            """insert into raw.events
                                   (event_date, message_id, type, event, anonymous_id, "timestamp", received_at, _loaded_at)
                               values (?, ?, 'track', 'post_viewed', 'device', ?, ?, ?)""",
                            [day, message_id, event_at, received_at, clock],
                        )

    daily = Warehouse(tmp_path / "daily.duckdb")
    for day in (x, x + timedelta(days=1), x + timedelta(days=2)):  # lookback of one day
        window = [max(x, day - timedelta(days=1)), day]
        ingest(daily, window, at(day + timedelta(days=1), "02:00"))
        daily.build_days(window[0], window[-1])
    daily.refresh_sessions()

    with duckdb.connect(str(daily.path)) as conn:
        sessions = conn.sql("select event_id, session_start_at from intermediate.int_events_sessionized order by 1").fetchall()
    assert sessions == [(m, at(x, "23:40")) for m in ("m1", "m2", "m3", "m4")]


def test_a_copy_received_first_on_a_day_loaded_later_moves_the_message_there(tmp_path):
    """A message loaded and built on day x, then found on day x+4 with an earlier receipt:
    the copy of x+4 is kept, day x is rebuilt without it (it lies outside the run of x+4),
    and the day's reconciliation counts its copy as a duplicate."""
    x = date(2026, 3, 20)
    at = lambda day, hhmm: datetime.combine(day, datetime.min.time()) + timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[3:]))  # noqa: E731
    later = x + timedelta(days=4)
    messages = [  # (file, id, device, event time, received at)
        ("a", "x1", "d1", at(x, "10:00"), at(x, "10:00")),
        ("a", "m", "d1", at(x, "10:10"), at(later, "12:00")),  # the original, held offline for four days
        ("b", "y1", "d2", at(later, "09:00"), at(later, "09:00")),
        ("b", "m", "d2", at(later, "09:05"), at(later, "09:06")),  # a resend with another time, received first
    ]

    def write(name: str) -> Path:
        path = tmp_path / f"{name}.parquet"
        rows = [(m, "track", "post_viewed", d, t, r) for f, m, d, t, r in messages if f == name]
        with duckdb.connect() as conn:
            conn.execute(
                "create table t (message_id varchar, type varchar, event varchar, anonymous_id varchar, "
                '"timestamp" timestamp, received_at timestamp)'
            )
            conn.executemany("insert into t values (?, ?, ?, ?, ?, ?)", rows)
            conn.execute(f"copy t to '{path}' (format parquet)")
        return path

    a, b = write("a"), write("b")
    clock = at(later + timedelta(days=1), "00:00")
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(warehouse.path)) as conn:
        load_events_day(conn, x, simulator_export(a, x, clock))  # x re-run after m arrived
    warehouse.build_days(x, x)
    with duckdb.connect(str(warehouse.path)) as conn:
        stats = load_events_day(conn, later, simulator_export(b, later, clock))
        restated = conn.sql("select event_date, by_load_of from raw.restated_days").fetchall()
        kept_on_x = event_day_stats(conn, x)
    assert restated == [(x, later)]
    assert (stats.rows, stats.duplicates) == (2, 0)
    assert (kept_on_x.input_rows, kept_on_x.rows, kept_on_x.duplicates) == (2, 1, 1) and kept_on_x.reconciles
    warehouse.build_days(later, later)

    with duckdb.connect(str(warehouse.path)) as conn:
        sessions = conn.sql("select event_id, anonymous_id from intermediate.int_events_sessionized order by 1").fetchall()
        left = conn.sql("select count(*) from raw.restated_days").fetchall()[0][0]
    assert sessions == [("m", "d2"), ("x1", "d1"), ("y1", "d2")]
    assert left == 0


def test_five_days_without_a_break_are_cut_every_24_hours_as_a_full_build_cuts_them(tmp_path):
    """Regression: a device active without a 30-minute break for more than two days made
    the daily run fail (a batch saw its run of activity start at the first day it read and
    opened a second session over events already in one). The run is carried from day to
    day: the daily runs cut it where a full build does, every 24 hours from its start."""
    x = date(2026, 3, 20)
    start = datetime.combine(x, datetime.min.time()) + timedelta(hours=8)
    bot = [(f"b{i:04d}", "bot", start + timedelta(minutes=10 * i)) for i in range(5 * 144)]  # x 08:00 .. x+5 07:50
    person = [("p1", "person", start + timedelta(days=2, hours=1)), ("p2", "person", start + timedelta(days=2, hours=1, minutes=5))]
    days = [x + timedelta(days=i) for i in range(6)]

    def ingest(warehouse: Warehouse, day: date) -> None:
        with duckdb.connect(str(warehouse.path)) as conn:
            conn.execute("delete from raw.events where event_date = ?", [day])
            conn.executemany(
                """insert into raw.events (event_date, message_id, type, event, anonymous_id, "timestamp", received_at)
                   values (?, ?, 'track', 'game_started', ?, ?, ?)""",
                [[day, m, device, t, t] for m, device, t in bot + person if t.date() == day],
            )

    daily = Warehouse(tmp_path / "daily.duckdb")
    for day in days:  # the schedule: yesterday and one day of lookback
        ingest(daily, day)
        daily.build_days(max(x, day - timedelta(days=1)), day)
    reference = Warehouse(tmp_path / "reference.duckdb")
    reference.copy_raw_from(daily)
    reference.build_days(days[0], days[-1], full_refresh=True)

    expected = [(start + timedelta(days=k), 144) for k in range(5)]
    for warehouse in (daily, reference):
        with duckdb.connect(str(warehouse.path)) as conn:
            sessions = conn.sql(
                "select session_start_at, count(*) from intermediate.int_events_sessionized "
                "where anonymous_id = 'bot' group by 1 order by 1"
            ).fetchall()
            assert sessions == expected
    assert_same_tables(daily, reference, "five days of uninterrupted activity", ["intermediate.int_events_sessionized"])

    # The device is flagged as runaway and left out of the core facts, unless asked for.
    core = "int_devices_flagged_runaway int_anonymous_ids_mapped fct_sessions fct_events"
    daily.dbt("run", "--select", core, "--vars", json.dumps(VARS))
    flagged = daily.table("intermediate.int_devices_flagged_runaway").to_pylist()
    assert flagged == [
        {
            "anonymous_id": "bot",
            "first_flagged_date": x,
            "last_flagged_date": x + timedelta(days=4),
            "flagged_days": 5,
            "long_sessions": 5,
            "busy_days": 0,
        }
    ]
    sessions = lambda: sorted(daily.table("marts.fct_sessions").column("anonymous_id").to_pylist())  # noqa: E731
    assert sessions() == ["person"]
    assert sorted(set(daily.table("marts.fct_events").column("anonymous_id").to_pylist())) == ["person"]
    # A var that changes which history the marts hold takes a full refresh of them.
    daily.dbt("run", "--select", core, "--full-refresh", "--vars", json.dumps({**VARS, "include_runaway_devices": True}))
    assert sessions() == ["bot"] * 5 + ["person"]


def active_users_in_total(warehouse: Warehouse) -> list[tuple]:
    """(day, dau, mau, new, returning, resurrecting, dormant) of platform 'all'."""
    with duckdb.connect() as conn:
        conn.register("agg", warehouse.table("marts.agg_active_users_daily"))
        return conn.sql(
            "select activity_date, dau, mau, new_users, returning_users, resurrecting_users, dormant_users"
            " from agg where platform = 'all' order by 1"
        ).fetchall()


def touches_of_the_order(warehouse: Warehouse) -> list[tuple]:
    """(device of the session, touch number, first-touch revenue, last-touch revenue) of order o1."""
    with duckdb.connect() as conn:
        conn.register("touches", warehouse.table("marts.fct_conversion_attribution"))
        conn.register("sessions", warehouse.table("marts.fct_sessions"))
        return conn.sql(
            "select sessions.anonymous_id, touch_number, first_touch_revenue, last_touch_revenue"
            " from touches join sessions using (session_id) where order_id = 'o1' order by touch_number"
        ).fetchall()


def test_identity_and_runaway_flags_reach_sessions_on_days_a_run_does_not_rebuild(tmp_path):
    """The marts kept by key (docs/partitions-and-late-data.md, "What a run revisits"): day x
    holds an anonymous session of the phone and one of the TV. On day x+3, outside the
    window of that day's run, the phone only sends an identify (u1, who also uses a laptop
    that day), and the TV sends 5,001 events, which flags it as runaway. The run of x+3
    must re-attribute the phone's session of x to u1 and number it before the laptop's,
    drop the TV's sessions (day x's too) and recount day x of the funnel; and when x+3 loses
    those messages again, undo all of it. The readers' copy follows each run."""
    x = date(2026, 3, 20)
    at = lambda day, hhmm: datetime.combine(day, datetime.min.time()) + timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[3:]))  # noqa: E731
    day3 = x + timedelta(days=3)
    # (id, type, event, device, user, event time)
    messages = [
        ("p1", "page", None, "phone", None, at(x, "10:00")),
        ("p2", "track", "product_added", "phone", None, at(x, "10:05")),
        ("t1", "page", None, "tv", None, at(x, "20:00")),
        ("i1", "identify", None, "phone", "u1", at(day3, "09:00")),
        ("l1", "page", None, "laptop", "u1", at(day3, "11:00")),
        ("o1", "track", "order_completed", "laptop", "u1", at(day3, "11:10")),
    ]
    busy = [(f"b{i}", "track", "game_started", "tv", None, at(day3, "12:00") + timedelta(seconds=i)) for i in range(5001)]
    properties = lambda event: '{"order_id": "o1", "revenue": 30}' if event == "order_completed" else None  # noqa: E731

    def ingest(warehouse: Warehouse, days: list[date]) -> None:
        with duckdb.connect(str(warehouse.path)) as conn:
            for day in days:
                conn.execute("delete from raw.events where event_date = ?", [day])
                rows = [
                    [day, m, kind, event, "Home" if kind == "page" else None, device, user, t, t, properties(event)]
                    for m, kind, event, device, user, t in messages + busy
                    if t.date() == day
                ]
                if rows:
                    conn.executemany(
                        """insert into raw.events
                               (event_date, message_id, type, event, name, anonymous_id, user_id, "timestamp", received_at, properties)
                           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        rows,
                    )

    daily = Warehouse(tmp_path / "daily.duckdb")
    copy = tmp_path / "readers.duckdb"
    publications = []

    def run(first: date, last: date) -> None:
        """A daily run, ending with the readers' copy, which must equal the warehouse."""
        daily.build_days(first, last, refresh=True)
        with duckdb.connect(str(daily.path)) as conn:
            publications.append(publish(conn, copy).by_change)
        readers = Warehouse(copy)
        assert_same_tables(readers, daily, f"the readers' copy after {first}..{last}", PUBLISHED)

    for day in [x + timedelta(days=i) for i in range(4)]:  # the schedule: yesterday and one day of lookback
        window = [max(x, day - timedelta(days=1)), day]
        ingest(daily, window)
        run(window[0], window[-1])

    sessions = daily.table("marts.fct_sessions").sort_by("session_start_at")
    assert sessions.select(["anonymous_id", "visitor_id", "user_id", "session_number", "session_date"]).to_pylist() == [
        {"anonymous_id": "phone", "visitor_id": "u1", "user_id": "u1", "session_number": 1, "session_date": x},
        {"anonymous_id": "laptop", "visitor_id": "u1", "user_id": "u1", "session_number": 2, "session_date": day3},
    ]
    visitors = daily.table("marts.fct_user_sessions").select(["visitor_id", "session_count", "first_session_date"]).to_pylist()
    assert visitors == [{"visitor_id": "u1", "session_count": 2, "first_session_date": x}]
    funnel = daily.table("marts.agg_product_funnel_daily").sort_by("session_date")
    assert funnel.select(["session_date", "sessions", "added_sessions", "added_sessions_to_date"]).to_pylist() == [
        {"session_date": x, "sessions": 1, "added_sessions": 1, "added_sessions_to_date": 1},
        {"session_date": day3, "sessions": 1, "added_sessions": 0, "added_sessions_to_date": 1},
    ]
    # The laptop's order has two touches: the phone's session of day x is u1's now.
    assert touches_of_the_order(daily) == [("phone", 1, 30.0, 0.0), ("laptop", 2, 0.0, 30.0)]
    # u1's laptop is not new on x+3: the phone's day x is u1's now (the TV is left out).
    assert active_users_in_total(daily) == [
        (x, 1, 1, 1, 0, 0, 0),
        (x + timedelta(days=1), 0, 1, 0, 0, 0, 1),
        (x + timedelta(days=2), 0, 1, 0, 0, 0, 0),
        (day3, 1, 1, 0, 0, 1, 0),
    ]

    reference = Warehouse(tmp_path / "reference.duckdb")
    reference.copy_raw_from(daily)
    reference.build_days(x, day3, full_refresh=True, refresh=True)
    marts = ["intermediate.int_anonymous_ids_mapped", "intermediate.int_devices_flagged_runaway", *COMPARED[4:]]
    assert_same_tables(daily, reference, "identity and flags from a day outside the window", marts)

    # x+3 is exported again without the TV's burst and without the phone's identify (say
    # they came from a test account): the TV is no longer flagged and the phone is anonymous
    # again, although neither has a session left on the days rebuilt.
    busy.clear()
    messages.remove(next(m for m in messages if m[0] == "i1"))
    ingest(daily, [day3])
    run(day3, day3)
    assert daily.table("intermediate.int_devices_flagged_runaway").num_rows == 0
    assert daily.table("intermediate.int_anonymous_ids_mapped").column("anonymous_id").to_pylist() == ["laptop"]
    sessions = daily.table("marts.fct_sessions").sort_by("session_start_at")
    assert sessions.select(["visitor_id", "session_number"]).to_pylist() == [
        {"visitor_id": "phone", "session_number": 1},
        {"visitor_id": "tv", "session_number": 1},
        {"visitor_id": "u1", "session_number": 1},
    ]
    visitors = daily.table("marts.fct_user_sessions").sort_by("visitor_id").select(["visitor_id", "session_count"]).to_pylist()
    assert visitors == [{"visitor_id": v, "session_count": 1} for v in ("phone", "tv", "u1")]
    funnel = daily.table("marts.agg_product_funnel_daily").sort_by("session_date")
    assert funnel.select(["session_date", "sessions"]).to_pylist() == [
        {"session_date": x, "sessions": 2},
        {"session_date": day3, "sessions": 1},
    ]
    # Undone: the order's one touch is the laptop's session, the phone and the TV are two
    # visitors of day x again, u1 new on x+3.
    assert touches_of_the_order(daily) == [("laptop", 1, 30.0, 30.0)]
    assert active_users_in_total(daily) == [
        (x, 2, 2, 2, 0, 0, 0),
        (x + timedelta(days=1), 0, 2, 0, 0, 0, 2),
        (x + timedelta(days=2), 0, 2, 0, 0, 0, 0),
        (day3, 1, 3, 1, 0, 0, 0),
    ]
    # After the first publication, the copy took only the changed event rows (and equalled
    # the warehouse after every run).
    assert publications == [False, True, True, True, True]
    # The identity map rebuilt from scratch (a full refresh): the next copy is made whole.
    daily.dbt("run", "--select", "int_anonymous_ids_mapped", "--full-refresh", "--vars", json.dumps(VARS))
    with duckdb.connect(str(daily.path)) as conn:
        assert publish(conn, copy).by_change is False
        assert publish(conn, copy).by_change is True
