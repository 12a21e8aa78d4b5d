"""Two days through Dagster: one single-run backfill of the partitioned graph, then the unpartitioned models."""

from datetime import date, datetime, timedelta

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from product_analytics.config import settings
from product_analytics.definitions import defs
from product_analytics.simulator.landing import events_file

DAYS = [date(2026, 3, 20), date(2026, 3, 21)]
RANGE_TAGS = {"dagster/asset_partition_range_start": DAYS[0].isoformat(), "dagster/asset_partition_range_end": DAYS[-1].isoformat()}


@pytest.fixture(scope="module")
def materialized():
    instance = DagsterInstance.ephemeral()
    ingestion = defs.resolve_job_def("daily_pipeline").execute_in_process(instance=instance, tags=RANGE_TAGS)
    models = defs.resolve_job_def("refresh_models").execute_in_process(instance=instance)
    return instance, ingestion, models


def test_ingestion_records_every_day_in_one_run(materialized):
    instance, ingestion, _ = materialized
    assert ingestion.success
    for table in ("events", "users", "posts", "orders"):
        assert instance.get_materialized_partitions(AssetKey(["raw", table])) == {d.isoformat() for d in DAYS}
    metadata = instance.get_latest_materialization_event(AssetKey(["raw", "events"])).asset_materialization.metadata
    assert metadata["rows"].value > 1000
    assert metadata["duplicates"].value > 0


def test_warehouse_holds_exactly_the_landed_events(materialized):
    s = settings()
    clock = s.ingest_clock
    with duckdb.connect(str(s.duckdb_path), read_only=True) as conn:
        for day in DAYS:
            start = datetime.combine(day, datetime.min.time())
            expected = conn.execute(
                "select count(distinct message_id) from read_parquet(?) where timestamp >= ? and timestamp < ? and received_at <= ?",
                [str(events_file(s.landing_dir, day)), start, start + timedelta(days=1), clock],
            ).fetchone()[0]
            loaded = conn.execute("select count(*) from raw.events where event_date = ?", [day]).fetchone()[0]
            assert loaded == expected > 0
        tracked = conn.execute("select count(distinct message_id) from raw.events where type != 'identify'").fetchone()[0]
        assert conn.execute("select count(*) from staging.stg_app__events").fetchone()[0] == tracked
        users = conn.execute("select count(*) from raw.users").fetchone()[0]
        assert conn.execute("select count(*) from staging.stg_app__users").fetchone()[0] == users > 0


def test_dbt_tests_ran_as_passing_asset_checks(materialized):
    _, ingestion, models = materialized
    evaluations = ingestion.get_asset_check_evaluations() + models.get_asset_check_evaluations()
    assert models.success
    assert [e.check_name for e in evaluations if not e.passed] == []
    definitions = [*defs.assets, *(defs.asset_checks or [])]
    expected = {
        key
        for definition in definitions
        if hasattr(definition, "check_keys")
        for key in definition.check_keys
        if key.name != "latest_partition_loaded"  # evaluated by the freshness sensor, not by the pipeline
    }
    assert {e.asset_check_key for e in evaluations} == expected
    assert any(e.check_name == "assert_every_event_in_exactly_one_session" for e in evaluations)


def test_every_event_of_the_window_is_in_one_session(materialized):
    s = settings()
    with duckdb.connect(str(s.duckdb_path), read_only=True) as conn:
        sessions_by_day = dict(conn.execute("select session_date, count(*) from marts.fct_sessions group by 1").fetchall())
        assert set(sessions_by_day) == set(DAYS)
        # Every deduplicated event of the second day is in exactly one session (the first
        # day's events may continue a session of the day before, which was not processed).
        missing = conn.execute(
            """select count(*) from staging.stg_app__events e
               anti join marts.fct_events f using (event_id) where e.event_date = ?""",
            [DAYS[1]],
        ).fetchone()[0]
        assert missing == 0
        events, sessions = conn.execute("select count(*), count(distinct session_id) from marts.fct_events").fetchone()
        assert sessions == sum(sessions_by_day.values()) and events > sessions
