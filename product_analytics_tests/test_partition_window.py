"""How a Dagster partition window reaches dbt: one pure helper, and one owner of the margin."""

import json
from datetime import datetime

import pytest

from product_analytics.policies.partitions import PARTITION_MARGIN_DAYS, dbt_project_vars, dbt_window_args
from product_analytics_tests.harness import Warehouse


def test_a_window_is_widened_by_the_margin_on_each_side():
    assert PARTITION_MARGIN_DAYS == 1
    # The window travels only in the flags: no var changes from run to run (dbt's partial
    # parse stays valid).
    args = dbt_window_args(datetime(2026, 3, 10), datetime(2026, 3, 13))
    assert args == ["--event-time-start", "2026-03-09T00:00:00", "--event-time-end", "2026-03-14T00:00:00"]


def test_a_single_day():
    args = dbt_window_args(datetime(2026, 12, 31), datetime(2027, 1, 1))
    assert args[1] == "2026-12-30T00:00:00" and args[3] == "2027-01-02T00:00:00"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2026, 3, 10), datetime(2026, 3, 10), "empty partition window"),
        (datetime(2026, 3, 10, 6), datetime(2026, 3, 11), "must be midnights"),
    ],
)
def test_bad_windows_are_refused(start, end, message):
    with pytest.raises(ValueError, match=message):
        dbt_window_args(start, end)


def test_the_longest_session_fits_in_the_margin():
    """A session may run into the next day only as far as the neighbour days dbt rebuilds."""
    rules = dbt_project_vars()
    assert rules["session_max_hours"] <= 24 * PARTITION_MARGIN_DAYS
    assert rules["play_session_timeout_minutes"] <= 24 * 60 * PARTITION_MARGIN_DAYS


def test_dbt_refuses_a_session_longer_than_the_margin(tmp_path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    compile_with = lambda hours: warehouse.dbt(
        "compile", "--select", "int_events_sessionized", "--vars", json.dumps({"start_date": "2026-03-01", "session_max_hours": hours})
    )
    compile_with(24)
    with pytest.raises(AssertionError, match="session_max_hours=30 is longer than partition_margin_days=1"):
        compile_with(30)
