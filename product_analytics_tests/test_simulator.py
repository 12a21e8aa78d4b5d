"""The simulator keeps its promises: determinism, order independence and every telemetry flaw."""

from datetime import date, timedelta

import duckdb
import numpy as np
import pyarrow.compute as pc
import pytest

from product_analytics.simulator import events as events_module
from product_analytics.simulator import world
from product_analytics.simulator.hashing import hex_ids, splitmix64
from product_analytics.simulator.landing import events_file, signups_truth, source_file
from product_analytics_tests.conftest import SIM_DAYS

TRACKS = [k for k in events_module.KINDS if k not in ("view", "identify")]


def _clear_caches():
    world.active_on.cache_clear()
    world.posts_created_on.cache_clear()
    world.orders_created_on.cache_clear()


@pytest.fixture
def db(landing):
    conn = duckdb.connect()
    conn.execute(f"create view ev as select * from read_parquet('{landing}/landing/events/*/*.parquet', hive_partitioning = true)")
    conn.execute(f"create view truth_identities as select distinct * from read_parquet('{landing}/truth/identities/*.parquet')")
    conn.execute(f"create view truth_instances as select * from read_parquet('{landing}/truth/instances/*.parquet')")
    conn.execute(f"create view truth_members as select * from read_parquet('{landing}/truth/members/*.parquet')")
    yield conn
    conn.close()


def one(conn, sql):
    return conn.execute(sql).fetchone()


def test_splitmix_is_a_bijection_and_ids_are_hex():
    x = np.arange(200_000, dtype=np.uint64)
    assert len(np.unique(splitmix64(x))) == len(x)
    ids = hex_ids(np.array([0, 255, 2**64 - 1], dtype=np.uint64), "u_").to_pylist()
    assert ids == ["u_0000000000000000", "u_00000000000000ff", "u_ffffffffffffffff"]


def test_a_day_is_the_same_whatever_was_generated_before(sim_config):
    _clear_caches()
    first = events_module.generate_day(sim_config, 12).events
    _clear_caches()
    events_module.generate_day(sim_config, 30)
    events_module.generate_day(sim_config, 3)
    again = events_module.generate_day(sim_config, 12).events
    assert first.num_rows > 1000
    assert first.equals(again)


def test_a_different_seed_gives_different_data(sim_config):
    other = world.SimulationConfig(seed=sim_config.seed + 1, epoch=sim_config.epoch, daily_users=sim_config.daily_users)
    a = events_module.generate_day(sim_config, 12).events
    b = events_module.generate_day(other, 12).events
    assert a["message_id"][0] != b["message_id"][0]


def test_event_day_files_hold_exactly_their_day_and_unique_messages_apart_from_duplicates(db, landing):
    for day in SIM_DAYS:
        lo, hi = one(db, f"select min(timestamp)::date, max(timestamp)::date from read_parquet('{events_file(landing / 'landing', day)}')")
        assert lo == hi == day
    total, distinct = one(db, "select count(*), count(distinct message_id) from ev")
    rate = (total - distinct) / distinct
    assert 0.005 <= rate <= 0.02, rate
    # A duplicate is the same message delivered again later: only the delivery times differ.
    differing = one(
        db,
        """select count(*) from (select message_id from ev group by message_id having count(*) > 1
           and (count(distinct coalesce(properties, '')) > 1 or count(distinct timestamp) > 1 or count(distinct received_at) < 2))""",
    )[0]
    assert differing == 0


def test_every_message_type_and_event_is_present(db):
    types = {r[0] for r in db.execute("select distinct type from ev").fetchall()}
    assert types == {"track", "page", "screen", "identify"}
    names = {r[0] for r in db.execute("select distinct event from ev where type = 'track'").fetchall()}
    assert names == set(TRACKS)


def test_timestamp_is_the_skew_corrected_device_time(db):
    wrong = one(db, "select count(*) from ev where timestamp != received_at - (sent_at - original_timestamp)")[0]
    assert wrong == 0
    skewed = one(db, "select avg((abs(epoch(original_timestamp - timestamp)) > 600)::int) from ev")[0]
    assert 0.005 < skewed < 0.2


def test_lateness_distribution(db):
    hours_late, days_late, beyond_lookback, late_mobile_share = one(
        db,
        """select avg((received_at > timestamp + interval 1 hour)::int),
                  avg((received_at >= timestamp::date + interval 1 day)::int),
                  count(*) filter (where received_at > timestamp + interval 3 day),
                  avg((context_platform != 'web')::int) filter (where received_at > timestamp + interval 1 hour)
           from ev""",
    )
    assert 0.02 < hours_late < 0.15
    assert 0.005 < days_late < hours_late
    assert beyond_lookback > 0
    assert late_mobile_share > 0.9


def test_sessions_cross_midnight(db):
    # Consecutive events of one device less than 30 minutes apart on both sides of midnight.
    crossings = one(
        db,
        """select count(*) from (
             select timestamp, lag(timestamp) over (partition by anonymous_id order by timestamp) as previous
             from (select distinct message_id, anonymous_id, timestamp from ev))
           where previous::date < timestamp::date and timestamp - previous <= interval 30 minute""",
    )[0]
    assert crossings >= 3


def test_identify_follows_anonymous_activity_and_users_have_several_devices(db):
    anonymous_then_known = one(
        db,
        """select count(*) from (select anonymous_id from ev group by anonymous_id
           having count(*) filter (where user_id is null) > 0 and count(*) filter (where user_id is not null) > 0
              and min(timestamp) filter (where user_id is null) < min(timestamp) filter (where user_id is not null))""",
    )[0]
    assert anonymous_then_known >= 10
    multi_device = one(
        db, "select count(*) from (select user_id from ev where user_id is not null group by 1 having count(distinct anonymous_id) > 1)"
    )[0]
    assert multi_device >= 10


def test_game_ends_and_join_ids_go_missing(db):
    started, ended = one(db, "select count(*) filter (where event = 'game_started'), count(*) filter (where event = 'game_ended') from ev")
    assert 0.04 < 1 - ended / started < 0.2
    accepted, without_id = one(
        db,
        """select count(*), count(*) filter (where properties ->> 'invite_id' is null)
           from (select distinct message_id, properties from ev where event = 'invite_accepted')""",
    )
    assert accepted > 20 and 0.15 <= without_id / accepted <= 0.3
    only_referrer = one(
        db,
        """select count(*) from ev where event = 'shared_link_opened'
           and properties ->> 'share_id' is null and properties ->> 'referrer_user_id' is not null""",
    )[0]
    assert only_referrer > 0


def test_creators_share_the_same_game_several_times_within_an_hour(db):
    repeated = one(
        db,
        """select count(*) from (select user_id, properties ->> 'game_id' as game, timestamp,
              lag(timestamp) over (partition by user_id, properties ->> 'game_id' order by timestamp) as previous
           from (select distinct message_id, user_id, properties, timestamp from ev where event in ('result_shared', 'invite_sent')))
           where timestamp - previous < interval 1 hour""",
    )[0]
    assert repeated >= 10


def _image(landing, table, day):
    return f"read_parquet('{source_file(landing / 'landing', table, day)}')"


def test_source_tables_change_and_delete(landing):
    first, last = SIM_DAYS[0], SIM_DAYS[-1]
    conn = duckdb.connect()
    users_then, users_now = _image(landing, "users", first), _image(landing, "users", last)
    changed = one(
        conn,
        f"""select count(*) from {users_then} a join {users_now} b using (id)
            where a.country != b.country or a.plan != b.plan or a.email != b.email""",
    )[0]
    assert changed > 0
    assert one(conn, f"select count(*) from {users_now} where deleted_at is not null")[0] > 0
    assert one(conn, f"select count(*) from {users_now} where updated_at < created_at")[0] == 0
    posts_then, posts_now = _image(landing, "posts", first), _image(landing, "posts", last)
    assert one(conn, f"select count(*) from {posts_then} a anti join {posts_now} b using (id)")[0] > 0
    assert one(conn, f"select count(*) from {posts_now} where is_hidden")[0] > 0
    orders_then, orders_now = _image(landing, "orders", first), _image(landing, "orders", last)
    moves = conn.execute(
        f"""select a.status || '>' || b.status, count(*) from {orders_then} a join {orders_now} b using (id)
            where a.status != b.status group by 1"""
    ).fetchall()
    moved = dict(moves)
    assert any(k.startswith("placed>") or k.startswith("preparing>") for k in moved), moved
    assert {k.split(">")[1] for k in moved} <= {"preparing", "shipped", "delivered", "cancelled"}


def test_orders_and_posts_appear_as_events(db, landing):
    last = SIM_DAYS[-1]
    conn = db
    orders_today = one(
        conn, f"select count(*) from read_parquet('{source_file(landing / 'landing', 'orders', last)}') where created_at::date = '{last}'"
    )[0]
    completed = one(
        conn, f"select count(distinct properties ->> 'order_id') from ev where event = 'order_completed' and timestamp::date = '{last}'"
    )[0]
    assert orders_today > 0 and abs(orders_today - completed) <= 2  # a buyer's session can run past midnight


def test_ground_truth_covers_the_events(db, landing, sim_config):
    unknown = one(db, "select count(*) from (select distinct anonymous_id from ev) e anti join truth_identities t using (anonymous_id)")[0]
    assert unknown == 0
    # An anonymous id belongs to exactly one person.
    assert (
        one(db, "select count(*) from (select anonymous_id from truth_identities group by 1 having count(distinct person_id) > 1)")[0] == 0
    )
    # Events carry the user id the truth says, once they carry one.
    mismatched = one(
        db, "select count(*) from ev join truth_identities t using (anonymous_id) where ev.user_id is not null and ev.user_id != t.user_id"
    )[0]
    assert mismatched == 0
    # Regression guard: a join carries the game of the share or invite it follows.
    other_game = one(
        db,
        """select count(*) from truth_members m join truth_instances i using (instance_id)
           join (select distinct message_id, properties ->> 'game_id' as game from ev) e on e.message_id = m.message_id
           where e.game != i.game_id""",
    )[0]
    assert other_game == 0
    joins_in_truth = one(db, "select count(*) from truth_members m join truth_instances i using (instance_id)")[0]
    assert joins_in_truth == one(db, "select count(*) from truth_members")[0] > 20
    signups = signups_truth(sim_config, SIM_DAYS[-1])
    users = one(db, f"select count(*) from read_parquet('{source_file(landing / 'landing', 'users', SIM_DAYS[-1])}')")[0]
    assert signups.num_rows == users
    assert pc.min(signups["signed_up_at"]).as_py().date() >= sim_config.epoch


def test_days_before_the_epoch_are_refused(sim_config, tmp_path):
    from product_analytics.simulator import LandingWriter

    with pytest.raises(ValueError, match="before the simulation's first day"):
        LandingWriter(sim_config, tmp_path, tmp_path).write_day(sim_config.epoch - timedelta(days=1))


def test_scale_is_one_knob(sim_config):
    small = events_module.generate_day(world.SimulationConfig(seed=3, epoch=date(2026, 1, 1), daily_users=100), 40).events.num_rows
    large = events_module.generate_day(world.SimulationConfig(seed=3, epoch=date(2026, 1, 1), daily_users=1000), 40).events.num_rows
    assert 6 < large / small < 14
