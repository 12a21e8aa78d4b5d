"""How a Dagster partition window reaches dbt: one small pure function."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

# Sessions read the events of the day before and the day after their start day
# (docs/sessions.md); when a window's raw days change, the sessions of the days
# bordering it may change too, so dbt rebuilds one more day on each side.
NEIGHBOUR_DAYS = 1


def dbt_window_args(start: datetime, end: datetime, dbt_vars: dict) -> list[str]:
    """`dbt build` arguments for the partition window ``[start, end)`` plus its neighbour days.

    Microbatch models process one batch per day; every other model ignores the
    window. ``start`` and ``end`` are midnights UTC (Dagster's window); the batches
    run over ``[start - 1 day, end + 1 day)``.
    """
    if end <= start:
        raise ValueError(f"empty partition window [{start}, {end})")
    for bound in (start, end):
        if (bound.hour, bound.minute, bound.second, bound.microsecond) != (0, 0, 0, 0):
            raise ValueError(f"partition window bounds must be midnights, got {bound}")
    margin = timedelta(days=NEIGHBOUR_DAYS)
    first, last = start - margin, end + margin
    # Incremental models that are not microbatch read the same days from these vars.
    window = {"window_start": first.date().isoformat(), "window_end": last.date().isoformat()}
    return [
        "--event-time-start",
        first.strftime("%Y-%m-%dT%H:%M:%S"),
        "--event-time-end",
        last.strftime("%Y-%m-%dT%H:%M:%S"),
        "--vars",
        json.dumps({**dbt_vars, **window}, sort_keys=True),
    ]
