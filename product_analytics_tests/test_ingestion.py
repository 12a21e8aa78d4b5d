"""Loading a day: exact contents, idempotency, the ingestion clock, and atomic replacement."""

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta

import duckdb
import pytest

from product_analytics.ingestion.load import load_events_day, load_source_day
from product_analytics.ingestion.schema import ensure_raw_schema, in_transaction
from product_analytics.ingestion.sources import simulator_export
from product_analytics.simulator.landing import events_file, source_file
from product_analytics_tests.conftest import SIM_DAYS

DAY = SIM_DAYS[2]
LATE_CLOCK = datetime(2026, 6, 1)


@pytest.fixture
def warehouse(tmp_path):
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_raw_schema(conn)
    yield conn
    conn.close()


def _file_counts(path, day, clock):
    """Distinct messages of the day received by ``clock``, their extra copies, users, and
    late messages (judged by each message's earliest copy)."""
    start = datetime.combine(day, datetime.min.time())
    return duckdb.execute(
        """with arrived as (
               select * from read_parquet(?) where timestamp >= ? and timestamp < ? and received_at <= ?
           ), first_copies as (
               select * from arrived qualify row_number() over (partition by message_id order by received_at) = 1
           )
           select (select count(*) from first_copies), (select count(*) from arrived) - (select count(*) from first_copies),
                  (select count(distinct user_id) from first_copies),
                  (select count(*) from first_copies where received_at >= ?)""",
        [str(path), start, start + timedelta(days=1), clock, start + timedelta(days=1)],
    ).fetchone()


def test_a_day_loads_exactly_what_had_arrived(warehouse, landing):
    path = events_file(landing / "landing", DAY)
    stats = load_events_day(warehouse, DAY, simulator_export(path, DAY, LATE_CLOCK))
    rows, duplicates, users, late = _file_counts(path, DAY, LATE_CLOCK)
    assert (stats.rows, stats.duplicates, stats.distinct_users, stats.late_events) == (rows, duplicates, users, late)
    assert rows > 1000 and duplicates > 0 and late > 0
    assert stats.input_rows == rows + duplicates and stats.quarantined == 0 and stats.reconciles
    assert stats.min_event_at.date() == stats.max_event_at.date() == DAY


def test_reloading_a_day_is_idempotent_and_picks_up_late_arrivals(warehouse, landing):
    path = events_file(landing / "landing", DAY)
    end_of_day = datetime.combine(DAY + timedelta(days=1), datetime.min.time())
    early = load_events_day(warehouse, DAY, simulator_export(path, DAY, end_of_day))
    later = load_events_day(warehouse, DAY, simulator_export(path, DAY, LATE_CLOCK))
    again = load_events_day(warehouse, DAY, simulator_export(path, DAY, LATE_CLOCK))
    assert early.rows == _file_counts(path, DAY, end_of_day)[0]
    assert early.rows < later.rows == again.rows
    assert early.late_events == 0 and later.late_events > 0
    copies = warehouse.execute("select count(*) from raw.events group by message_id having count(*) > 1").fetchall()
    assert copies == []
    # Loading another day leaves this one alone.
    other = load_events_day(
        warehouse, SIM_DAYS[3], simulator_export(events_file(landing / "landing", SIM_DAYS[3]), SIM_DAYS[3], LATE_CLOCK)
    )
    per_day = dict(warehouse.execute("select event_date, count(*) from raw.events group by 1").fetchall())
    assert per_day == {DAY: later.rows, SIM_DAYS[3]: other.rows}


def test_a_failed_insert_leaves_the_previous_day_intact(warehouse, landing, tmp_path):
    path = events_file(landing / "landing", DAY)
    before = load_events_day(warehouse, DAY, simulator_export(path, DAY, LATE_CLOCK)).rows
    with pytest.raises(duckdb.IOException):
        load_events_day(warehouse, DAY, simulator_export(tmp_path / "missing.parquet", DAY, LATE_CLOCK))
    assert warehouse.execute("select count(*) from raw.events where event_date = ?", [DAY]).fetchone()[0] == before
    with pytest.raises(duckdb.Error):  # the statements a load runs, failing after its delete
        in_transaction(warehouse, [("delete from raw.events where event_date = ?", [DAY]), ("insert into raw.events select 1/0", [])])
    assert warehouse.execute("select count(*) from raw.events where event_date = ?", [DAY]).fetchone()[0] == before


def test_a_process_killed_between_delete_and_insert_loses_nothing(tmp_path, landing):
    """Regression guard: a load's delete must never be committed without its insert."""
    db_path = tmp_path / "warehouse.duckdb"
    path = events_file(landing / "landing", DAY)
    with duckdb.connect(str(db_path)) as conn:
        ensure_raw_schema(conn)
        before = load_events_day(conn, DAY, simulator_export(path, DAY, LATE_CLOCK)).rows
    # The production load, in a process that stops for good once it has deleted the day
    # inside its transaction and is about to insert it again.
    script = textwrap.dedent(
        f"""
        import datetime, time, duckdb
        from pathlib import Path
        from product_analytics.ingestion.load import load_events_day
        from product_analytics.ingestion.sources import simulator_export
        conn = duckdb.connect({str(db_path)!r})
        original = conn.execute
        def execute(sql, params=None):
            if sql.lstrip().startswith("insert into raw.events"):
                print("deleted", flush=True)
                time.sleep(120)
            return original(sql, params) if params is not None else original(sql)
        class Proxy:
            def __getattr__(self, name):
                return execute if name == "execute" else getattr(conn, name)
        day = datetime.date.fromisoformat({DAY.isoformat()!r})
        clock = datetime.datetime.fromisoformat({LATE_CLOCK.isoformat()!r})
        load_events_day(Proxy(), day, simulator_export(Path({str(path)!r}), day, clock))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert proc.stdout.readline().strip() == "deleted"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with duckdb.connect(str(db_path)) as conn:
        assert conn.execute("select count(*) from raw.events where event_date = ?", [DAY]).fetchone()[0] == before > 0


def test_source_table_images_replace_their_day(warehouse, landing):
    path = source_file(landing / "landing", "users", DAY)
    first = load_source_day(warehouse, "users", DAY, path)
    second = load_source_day(warehouse, "users", DAY, path)
    expected = duckdb.execute("select count(*) from read_parquet(?)", [str(path)]).fetchone()[0]
    assert first == second == expected > 0
    assert warehouse.execute("select count(*), count(distinct id) from raw.users").fetchone() == (expected, expected)
    assert warehouse.execute("select distinct snapshot_date from raw.users").fetchall() == [(date(2026, 3, 12),)]
