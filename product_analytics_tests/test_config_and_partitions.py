"""Configuration errors are clear; partition windows and the demo window are exact."""

from datetime import date, datetime

import pytest

from product_analytics.config import ConfigError, record_start_date, settings, start_date_chosen
from product_analytics.demo import demo_window
from product_analytics.policies.partitions import days_in_window


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PA_DUCKDB_PATH", raising=False)
    s = settings()
    assert s.duckdb_path == tmp_path / "warehouse.duckdb"
    assert s.landing_dir == tmp_path / "landing" / "simulator"
    assert s.start_date == date(2026, 3, 1)
    assert s.ingest_clock == datetime(2026, 4, 1)


def test_a_data_folder_keeps_the_start_date_recorded_for_it_unless_pa_start_date_is_set(monkeypatch, tmp_path):
    monkeypatch.setenv("PA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PA_START_DATE")
    assert settings().start_date == date(2026, 9, 1) and not start_date_chosen(tmp_path)
    record_start_date(tmp_path, date(2026, 11, 25))
    assert settings().start_date == date(2026, 11, 25) and start_date_chosen(tmp_path)
    monkeypatch.setenv("PA_START_DATE", "2026-10-01")  # the variable wins
    assert settings().start_date == date(2026, 10, 1)
    (tmp_path / "start_date").write_text("next week\n")
    monkeypatch.delenv("PA_START_DATE")
    with pytest.raises(ConfigError, match="start_date holds 'next week', not a date"):
        settings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PA_SIM_SEED", "abc", "PA_SIM_SEED='abc' is not an integer"),
        ("PA_SIM_DAILY_USERS", "3", "PA_SIM_DAILY_USERS=3 must be at least 10"),
        ("PA_START_DATE", "2026-13-01", "is not a date"),
        ("PA_INGEST_CLOCK", "yesterday", "is not an ISO timestamp"),
        ("PA_SOURCE", "s3", "PA_SOURCE='s3' is not one of simulator, files"),
        ("PA_QUARANTINE_MAX_RATE", "5%", "is not a number"),
        ("PA_QUARANTINE_MAX_RATE", "2", "must be between 0.0 and 1.0"),
        ("PA_ENGINE", "postgres", "is not one of duckdb, spark"),
        ("PA_ENGINE", "spark", "the pipeline runs on DuckDB only so far"),
    ],
)
def test_bad_values_are_named_in_the_error(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        settings()


def test_the_file_source_needs_its_folder(monkeypatch, tmp_path):
    from product_analytics.ingestion.sources import FileSource, event_source

    monkeypatch.setenv("PA_SOURCE", "files")
    with pytest.raises(ConfigError, match="PA_SOURCE=files needs PA_EVENTS_DIR"):
        event_source()
    monkeypatch.setenv("PA_EVENTS_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("PA_MAX_MESSAGE_BYTES", "1000")
    source = event_source()
    assert isinstance(source, FileSource) and source.rules.max_message_bytes == 1000
    with pytest.raises(ConfigError, match="is not a folder"):
        source.prepare(None)


def test_a_clock_with_a_zone_is_converted_to_utc(monkeypatch):
    monkeypatch.setenv("PA_INGEST_CLOCK", "2026-04-01T02:30:00+02:00")
    assert settings().ingest_clock == datetime(2026, 4, 1, 0, 30)


def test_days_in_window():
    assert days_in_window(datetime(2026, 3, 30), datetime(2026, 4, 2)) == [date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1)]
    with pytest.raises(ValueError, match="empty partition window"):
        days_in_window(datetime(2026, 4, 2), datetime(2026, 4, 2))


def test_demo_window_is_the_last_seven_complete_days():
    assert demo_window(date(2026, 11, 22), date(2026, 1, 1)) == (date(2026, 11, 15), date(2026, 11, 21))
    assert demo_window(date(2026, 1, 4), date(2026, 1, 1)) == (date(2026, 1, 1), date(2026, 1, 3))
    with pytest.raises(SystemExit, match="after yesterday"):
        demo_window(date(2026, 1, 1), date(2026, 1, 1))
