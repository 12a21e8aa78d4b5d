"""Cohort retention, vectorized (docs/retention.md has the definitions).

Input: one row per (user, active day), days as integers (days since 1970-01-01),
optionally a segment per row (the user's attribute value, constant per user).
Nothing here loops over users or events in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

GRAINS = {"day": 30, "week": 12, "month": 6}  # grain -> largest period number reported


def period_index(days: np.ndarray, grain: str) -> np.ndarray:
    """The UTC calendar period of each day: days since 1970, ISO weeks (Monday), or months."""
    days = np.asarray(days, dtype=np.int64)
    if grain == "day":
        return days
    if grain == "week":
        return (days + 3) // 7  # 1970-01-01 was a Thursday: week 0 starts on Monday 1969-12-29
    if grain == "month":
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    raise ValueError(f"unknown grain {grain!r}; expected one of {sorted(GRAINS)}")


def period_first_day(index: np.ndarray, grain: str) -> np.ndarray:
    index = np.asarray(index, dtype=np.int64)
    if grain == "day":
        return index
    if grain == "week":
        return index * 7 - 3
    if grain == "month":
        return index.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    raise ValueError(f"unknown grain {grain!r}")


def period_last_day(index: np.ndarray, grain: str) -> np.ndarray:
    return period_first_day(np.asarray(index, dtype=np.int64) + 1, grain) - 1


@dataclass(frozen=True)
class Retention:
    """Long format: one row per (segment, cohort, period number)."""

    segment: np.ndarray
    cohort: np.ndarray  # period index of the cohort
    period_number: np.ndarray
    cohort_size: np.ndarray
    retained: np.ndarray  # users active in period N (-1 where the period has not finished)
    unbounded_retained: np.ndarray  # users active in period N or later (-1 where unfinished)

    @property
    def finished(self) -> np.ndarray:
        return self.retained >= 0

    def rates(self) -> tuple[np.ndarray, np.ndarray]:
        """N-day and unbounded retention rates, NaN where the period has not finished."""
        with np.errstate(invalid="ignore", divide="ignore"):
            size = self.cohort_size.astype(float)
            rate = np.where(self.finished, self.retained / size, np.nan)
            unbounded = np.where(self.finished, self.unbounded_retained / size, np.nan)
        return rate, unbounded


def _sorted_by_user_then_period(user: np.ndarray, period: np.ndarray) -> bool:
    same_user = user[1:] == user[:-1]
    return bool(np.all((user[1:] > user[:-1]) | (same_user & (period[1:] >= period[:-1]))))


def retention(user: np.ndarray, day: np.ndarray, last_day: int, grain: str, segment: np.ndarray | None = None) -> Retention:
    """Retention of every cohort of ``grain`` periods, for period numbers 0..GRAINS[grain].

    ``user``: integer user codes; ``day``: active days (days since 1970); ``last_day``:
    the last day the data covers, which decides whether a period has finished;
    ``segment``: an integer code per row, constant per user (defaults to one segment).
    """
    max_n = GRAINS[grain]
    user = np.asarray(user, dtype=np.int64)
    period = period_index(day, grain)
    segment = np.zeros(len(user), dtype=np.int64) if segment is None else np.asarray(segment, dtype=np.int64)
    if len(user) == 0:
        empty = np.empty(0, dtype=np.int64)
        return Retention(empty, empty, empty, empty, empty, empty)

    # One row per user and active period, sorted by user then period (the asset
    # fetches rows already ordered by user and day, which keeps periods ordered too).
    if not _sorted_by_user_then_period(user, period):
        order = np.lexsort((period, user))
        user, period, segment = user[order], period[order], segment[order]
    keep = np.r_[True, (user[1:] != user[:-1]) | (period[1:] != period[:-1])]
    user, period, segment = user[keep], period[keep], segment[keep]
    first_row = np.r_[True, user[1:] != user[:-1]]
    starts = np.flatnonzero(first_row)
    rows_per_user = np.diff(np.r_[starts, len(user)])
    cohort = np.repeat(period[starts], rows_per_user)
    number = period - cohort
    last_number = np.maximum.reduceat(number, starts)

    # Group keys: (segment, cohort) pairs, numbered densely.
    user_segment, user_cohort = segment[starts], period[starts]
    lowest = user_cohort.min()
    span = int(user_cohort.max() - lowest) + 1
    group_keys, user_group = np.unique(user_segment * span + (user_cohort - lowest), return_inverse=True)
    groups = np.stack([group_keys // span, group_keys % span + lowest])
    n_groups = len(group_keys)
    size = np.bincount(user_group, minlength=n_groups)

    row_group = np.repeat(user_group, rows_per_user)
    in_range = number <= max_n
    retained = np.bincount(row_group[in_range] * (max_n + 1) + number[in_range], minlength=n_groups * (max_n + 1))
    retained = retained.reshape(n_groups, max_n + 1)
    # Users whose last active period number is >= N: a reverse cumulative count.
    last_clipped = np.minimum(last_number, max_n)
    last_hist = np.bincount(user_group * (max_n + 1) + last_clipped, minlength=n_groups * (max_n + 1)).reshape(n_groups, max_n + 1)
    unbounded = np.cumsum(last_hist[:, ::-1], axis=1)[:, ::-1]

    numbers = np.tile(np.arange(max_n + 1), n_groups)
    cohorts = np.repeat(groups[1], max_n + 1)
    finished = period_last_day(cohorts + numbers, grain) <= last_day
    return Retention(
        segment=np.repeat(groups[0], max_n + 1),
        cohort=cohorts,
        period_number=numbers,
        cohort_size=np.repeat(size, max_n + 1),
        retained=np.where(finished, retained.ravel(), -1),
        unbounded_retained=np.where(finished, unbounded.ravel(), -1),
    )


def to_frame(result: Retention, grain: str, segment_names: list[str] | None = None) -> pd.DataFrame:
    """The long table of ``retention_cohorts`` (with ``attribute_value`` when segment names are
    given); unfinished periods hold nulls (pandas' nullable integer and float types)."""
    rate, unbounded_rate = result.rates()
    unfinished = ~result.finished
    columns = {
        "grain": pd.array([grain] * len(result.cohort), dtype="string"),
        "cohort_period": period_first_day(result.cohort, grain).astype("datetime64[D]"),
        "period_number": pd.array(result.period_number, dtype="Int64"),
        "cohort_size": pd.array(result.cohort_size, dtype="Int64"),
        "retained_users": pd.arrays.IntegerArray(result.retained.astype("int64"), unfinished),
        "retention_rate": pd.arrays.FloatingArray(rate.astype("float64"), unfinished),
        "unbounded_retained_users": pd.arrays.IntegerArray(result.unbounded_retained.astype("int64"), unfinished),
        "unbounded_retention_rate": pd.arrays.FloatingArray(unbounded_rate.astype("float64"), unfinished),
    }
    if segment_names is not None:
        columns = {"attribute_value": pd.array(np.array(segment_names, dtype=object)[result.segment], dtype="string"), **columns}
    return pd.DataFrame(columns)
