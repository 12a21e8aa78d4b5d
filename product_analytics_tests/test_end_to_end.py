"""Two days through Dagster: ingestion as one single-run backfill, then the dbt models and their checks."""

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
    ingestion = defs.resolve_job_def("daily_ingestion").execute_in_process(instance=instance, tags=RANGE_TAGS)
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
                "select count(*) from read_parquet(?) where timestamp >= ? and timestamp < ? and received_at <= ?",
                [str(events_file(s.landing_dir, day)), start, start + timedelta(days=1), clock],
            ).fetchone()[0]
            loaded = conn.execute("select count(*) from raw.events where event_date = ?", [day]).fetchone()[0]
            assert loaded == expected > 0
        tracked = conn.execute("select count(*) from raw.events where type != 'identify'").fetchone()[0]
        assert conn.execute("select count(*) from staging.stg_app__events").fetchone()[0] == tracked
        users = conn.execute("select count(*) from raw.users").fetchone()[0]
        assert conn.execute("select count(*) from staging.stg_app__users").fetchone()[0] == users > 0


def test_dbt_tests_ran_as_passing_asset_checks(materialized):
    _, _, models = materialized
    assert models.success
    evaluations = models.get_asset_check_evaluations()
    checked = {e.asset_key.to_user_string() for e in evaluations}
    assert checked == {
        "staging/stg_app__events",
        "staging/stg_app__identifies",
        "staging/stg_app__users",
        "staging/stg_app__posts",
        "staging/stg_app__orders",
    }
    assert all(e.passed for e in evaluations)
    assert len(evaluations) == sum(len(list(a.check_specs)) for a in defs.assets if a.check_specs)
