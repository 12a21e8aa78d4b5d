"""The one daily partitioning of everything derived from events (UTC calendar days)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dagster import BackfillPolicy, DailyPartitionsDefinition

from product_analytics.config import settings

# A partition key is an event day; the last partition is yesterday (a day is complete at midnight UTC).
daily_partitions = DailyPartitionsDefinition(start_date=settings().start_date.isoformat(), timezone="UTC", end_offset=0)

# A range of days runs as one run (and one dbt invocation), from the UI and the CLI alike.
single_run_backfill = BackfillPolicy.single_run()


def days_in_window(start: datetime, end: datetime) -> list[date]:
    """The days of a partition time window ``[start, end)``."""
    first = start.date()
    count = (end.date() - first).days
    if count <= 0:
        raise ValueError(f"empty partition window [{start}, {end})")
    return [first + timedelta(days=i) for i in range(count)]
