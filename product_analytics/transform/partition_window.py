"""How a Dagster partition window reaches dbt: one small pure function."""

from __future__ import annotations

import json
from datetime import datetime


def dbt_window_args(start: datetime, end: datetime, dbt_vars: dict) -> list[str]:
    """`dbt build` arguments for the days ``[start, end)``: the microbatch window, plus vars.

    Microbatch models process one batch per day of the window; every other model
    ignores the window. ``start`` and ``end`` are midnights UTC (Dagster's window).
    """
    if end <= start:
        raise ValueError(f"empty partition window [{start}, {end})")
    for bound in (start, end):
        if (bound.hour, bound.minute, bound.second, bound.microsecond) != (0, 0, 0, 0):
            raise ValueError(f"partition window bounds must be midnights, got {bound}")
    return [
        "--event-time-start",
        start.strftime("%Y-%m-%dT%H:%M:%S"),
        "--event-time-end",
        end.strftime("%Y-%m-%dT%H:%M:%S"),
        "--vars",
        json.dumps(dbt_vars, sort_keys=True),
    ]
