"""The one helper that turns a Dagster partition window into dbt arguments."""

import json
from datetime import datetime

import pytest

from product_analytics.transform.partition_window import dbt_window_args


def test_a_window_is_widened_by_one_day_on_each_side():
    args = dbt_window_args(datetime(2026, 3, 10), datetime(2026, 3, 13), {"start_date": "2026-03-01"})
    assert args[:4] == ["--event-time-start", "2026-03-09T00:00:00", "--event-time-end", "2026-03-14T00:00:00"]
    assert args[4] == "--vars"
    assert json.loads(args[5]) == {"start_date": "2026-03-01", "window_start": "2026-03-09", "window_end": "2026-03-14"}


def test_a_single_day():
    args = dbt_window_args(datetime(2026, 12, 31), datetime(2027, 1, 1), {})
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
        dbt_window_args(start, end, {})
