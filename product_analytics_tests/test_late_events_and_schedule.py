"""Events later than the lookback are reported; the daily schedule asks for the lookback window."""

from datetime import UTC, date, datetime, timedelta

import duckdb
from dagster import AssetCheckSeverity, RunRequest, SkipReason, build_schedule_context

from product_analytics.automation.schedules import daily_pipeline_schedule, lookback_range
from product_analytics.ingestion.assets import late_events_check
from product_analytics.ingestion.load import load_events_day
from product_analytics.ingestion.schema import ensure_raw_schema
from product_analytics.ingestion.sources import missed_late_events, simulator_export
from product_analytics.simulator.landing import events_file
from product_analytics_tests.conftest import SIM_DAYS, START


def test_messages_arriving_after_a_day_was_loaded_are_counted_with_their_lateness(tmp_path, landing):
    day = SIM_DAYS[1]
    path = events_file(landing / "landing", day)
    loaded_at = datetime.combine(day + timedelta(days=1), datetime.min.time()) + timedelta(hours=2)
    now = datetime(2026, 6, 1)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        ensure_raw_schema(conn)
        load_events_day(conn, day, simulator_export(path, day, loaded_at))
        expected_count, expected_latest = conn.execute(
            """with day as (select * from read_parquet(?) where timestamp::date = ?)
               select count(distinct message_id), max(received_at) from day
               where received_at > ? and received_at <= ?
                 and message_id not in (select message_id from day where received_at <= ?)""",
            [str(path), day, loaded_at, now, loaded_at],
        ).fetchone()
        missed = missed_late_events(conn, {day: path}, now)
        assert expected_count > 0
        assert [(m.day, m.missed) for m in missed] == [(day, expected_count)]
        end_of_day = datetime.combine(day + timedelta(days=1), datetime.min.time())
        assert missed[0].max_hours_late == round((expected_latest - end_of_day).total_seconds() / 3600, 1)
        # Once the day is loaded again, nothing is missing.
        load_events_day(conn, day, simulator_export(path, day, now))
        assert missed_late_events(conn, {day: path}, now) == []


def test_the_check_warns_and_names_the_days_to_backfill():
    from product_analytics.ingestion.load import MissedDay

    result = late_events_check(
        [MissedDay(date(2026, 3, 5), 7, 80.5), MissedDay(date(2026, 3, 6), 2, 96.0)], date(2026, 2, 4), date(2026, 3, 6)
    )
    assert not result.passed and result.severity == AssetCheckSeverity.WARN
    assert result.metadata["late_messages"].value == 9
    assert result.metadata["max_hours_late"].value == 96.0
    assert result.metadata["days_to_backfill"].value == "2026-03-05, 2026-03-06"
    assert late_events_check([], date(2026, 2, 4), date(2026, 3, 6)).passed


def test_lookback_range():
    assert lookback_range(date(2026, 3, 20), 3, START) == (date(2026, 3, 16), date(2026, 3, 19))
    assert lookback_range(date(2026, 3, 3), 3, START) == (START, date(2026, 3, 2))
    assert lookback_range(date(2026, 3, 20), 0, START) == (date(2026, 3, 19), date(2026, 3, 19))
    assert lookback_range(START, 3, START) is None


def test_the_schedule_requests_yesterday_and_the_lookback_in_one_run():
    context = build_schedule_context(scheduled_execution_time=datetime(2026, 3, 20, 2, 0, tzinfo=UTC))
    request = daily_pipeline_schedule(context)
    assert isinstance(request, RunRequest)
    assert request.run_key == "daily-2026-03-19"
    assert request.tags["dagster/asset_partition_range_start"] == "2026-03-16"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-03-19"
    before = daily_pipeline_schedule(build_schedule_context(scheduled_execution_time=datetime(2026, 3, 1, 2, 0, tzinfo=UTC)))
    assert isinstance(before, SkipReason)
    assert daily_pipeline_schedule.cron_schedule == "0 2 * * *"
