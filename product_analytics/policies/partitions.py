"""The one daily partitioning of everything derived from events (UTC calendar days), and
how a partition window reaches dbt (docs/partitions-and-late-data.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import yaml
from dagster import BackfillPolicy, DailyPartitionsDefinition

from product_analytics.config import DBT_PROJECT_DIR, settings

# A partition key is an event day; the last partition is yesterday (a day is complete at midnight UTC).
daily_partitions = DailyPartitionsDefinition(start_date=settings().start_date.isoformat(), timezone="UTC", end_offset=0)

# A range of days runs as one run (and one dbt invocation), from the UI and the CLI alike.
single_run_backfill = BackfillPolicy.single_run()

# The run tags that carry a range of days (one run for the range).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def dbt_project_vars() -> dict:
    """The vars of dbt_project.yml: the dbt project owns the rules its SQL applies."""
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


# Sessions read the events of the days before and after their start day, and may run
# into the next (docs/sessions.md): when a window's raw days change, the sessions of
# the days bordering it may change too, so dbt rebuilds this many more days on each
# side. The dbt project owns the figure (its build fails when a session may be longer).
PARTITION_MARGIN_DAYS = int(dbt_project_vars()["partition_margin_days"])


def range_tags(first: date, last: date) -> dict[str, str]:
    """Run tags for the days ``first`` .. ``last`` (inclusive) in one run."""
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}


def days_in_window(start: datetime, end: datetime) -> list[date]:
    """The days of a partition time window ``[start, end)``."""
    first = start.date()
    count = (end.date() - first).days
    if count <= 0:
        raise ValueError(f"empty partition window [{start}, {end})")
    return [first + timedelta(days=i) for i in range(count)]


def dbt_window_args(start: datetime, end: datetime) -> list[str]:
    """`dbt build` arguments for the partition window ``[start, end)`` widened by the margin.

    The window reaches dbt only as the event-time flags: microbatch models process one
    batch per day of it, other incremental models read it whole (macro ``run_window``).
    ``start`` and ``end`` are midnights UTC (Dagster's window); with a margin of one day
    the flags span ``[start - 1 day, end + 1 day)``.
    """
    if end <= start:
        raise ValueError(f"empty partition window [{start}, {end})")
    for bound in (start, end):
        if (bound.hour, bound.minute, bound.second, bound.microsecond) != (0, 0, 0, 0):
            raise ValueError(f"partition window bounds must be midnights, got {bound}")
    margin = timedelta(days=PARTITION_MARGIN_DAYS)
    first, last = start - margin, end + margin
    return ["--event-time-start", first.strftime("%Y-%m-%dT%H:%M:%S"), "--event-time-end", last.strftime("%Y-%m-%dT%H:%M:%S")]
