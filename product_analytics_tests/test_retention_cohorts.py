"""Retention cohorts: hand-computed matrices and a brute-force reference on random data."""

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from product_analytics.retention.cohorts import GRAINS, period_first_day, period_index, period_last_day, retention, to_frame

EPOCH = date(1970, 1, 1)


def d(value: date) -> int:
    return (value - EPOCH).days


def matrix(result, cohort_day: date, grain: str):
    """{period number: (retained, unbounded)} of one cohort, None where unfinished."""
    cohort = period_index(np.array([d(cohort_day)]), grain)[0]
    rows = np.flatnonzero(result.cohort == cohort)
    return {
        int(result.period_number[i]): (None if result.retained[i] < 0 else (int(result.retained[i]), int(result.unbounded_retained[i])))
        for i in rows
    }


def test_a_user_active_on_days_0_1_and_3():
    start = date(2026, 3, 2)
    user = np.array([1, 1, 1, 1, 2])
    day = np.array([d(start), d(start), d(start + timedelta(days=1)), d(start + timedelta(days=3)), d(start + timedelta(days=1))])
    result = retention(user, day, last_day=d(start + timedelta(days=5)), grain="day")
    first = matrix(result, start, "day")
    assert [first[n] for n in range(7)] == [(1, 1), (1, 1), (0, 1), (1, 1), (0, 0), (0, 0), None]
    assert all(first[n] is None for n in range(6, 31))
    second = matrix(result, start + timedelta(days=1), "day")
    assert [second[n] for n in range(6)] == [(1, 1), (0, 0), (0, 0), (0, 0), (0, 0), None]
    rate, unbounded = result.rates()
    assert rate[(result.cohort == d(start)) & (result.period_number == 0)] == [1.0]
    assert np.isnan(rate[(result.cohort == d(start)) & (result.period_number == 6)]).all()


def test_weeks_and_months_across_a_year_boundary():
    # Thursday 2026-12-31 and Monday 2027-01-04: ISO weeks starting 2026-12-28 and 2027-01-04.
    user = np.array([7, 7, 8])
    day = np.array([d(date(2026, 12, 31)), d(date(2027, 1, 4)), d(date(2027, 1, 2))])
    weekly = retention(user, day, last_day=d(date(2027, 1, 10)), grain="week")
    assert matrix(weekly, date(2026, 12, 28), "week")[0] == (2, 2)
    assert matrix(weekly, date(2026, 12, 28), "week")[1] == (1, 1)
    assert matrix(weekly, date(2026, 12, 28), "week")[2] is None
    # The data ends on a Tuesday: the week that started the day before has not finished.
    unfinished = retention(user, day, last_day=d(date(2027, 1, 5)), grain="week")
    assert matrix(unfinished, date(2026, 12, 28), "week")[1] is None
    monthly = retention(user, day, last_day=d(date(2027, 1, 31)), grain="month")
    assert matrix(monthly, date(2026, 12, 1), "month")[0] == (1, 1)
    assert matrix(monthly, date(2026, 12, 1), "month")[1] == (1, 1)
    assert matrix(monthly, date(2027, 1, 1), "month")[0] == (1, 1)
    assert matrix(monthly, date(2027, 1, 1), "month")[1] is None


def test_period_calendar():
    days = np.array([d(date(2026, 12, 28)), d(date(2027, 1, 3)), d(date(2027, 1, 4))])
    weeks = period_index(days, "week")
    assert weeks[0] == weeks[1] != weeks[2]
    assert period_first_day(weeks, "week").tolist() == [d(date(2026, 12, 28))] * 2 + [d(date(2027, 1, 4))]
    assert period_last_day(period_index(np.array([d(date(2024, 2, 10))]), "month"), "month").tolist() == [d(date(2024, 2, 29))]
    with pytest.raises(ValueError, match="unknown grain"):
        period_index(days, "quarter")


def test_segments_split_cohorts_and_the_table_has_nulls_for_unfinished_periods():
    user = np.array([1, 2, 3])
    day = np.array([d(date(2026, 3, 2))] * 3)
    segment = np.array([0, 1, 1])
    result = retention(user, day, last_day=d(date(2026, 3, 3)), grain="day", segment=segment)
    table = to_frame(result, "day", ["web", "ios"])
    rows = [r for r in table.astype(object).where(table.notna(), None).to_dict("records") if r["period_number"] in (0, 1, 2)]
    assert [(r["attribute_value"], r["period_number"], r["cohort_size"], r["retained_users"], r["retention_rate"]) for r in rows] == [
        ("web", 0, 1, 1, 1.0),
        ("web", 1, 1, 0, 0.0),
        ("web", 2, 1, None, None),
        ("ios", 0, 2, 2, 1.0),
        ("ios", 1, 2, 0, 0.0),
        ("ios", 2, 2, None, None),
    ]
    assert table["cohort_period"][0].date() == date(2026, 3, 2)


def brute_force(user, day, last_day, grain):
    """Straight from the definitions, one user at a time."""
    periods: dict[int, set[int]] = {}
    for u, x in zip(user.tolist(), period_index(day, grain).tolist(), strict=True):
        periods.setdefault(u, set()).add(x)
    out = {}
    for active in periods.values():
        cohort = min(active)
        for n in range(GRAINS[grain] + 1):
            key = (cohort, n)
            retained, unbounded, size = out.get(key, (0, 0, 0))
            out[key] = (retained + ((cohort + n) in active), unbounded + (max(active) >= cohort + n), size + 1)
    finished = {key: period_last_day(np.array([key[0] + key[1]]), grain)[0] <= last_day for key in out}
    return {key: (value if finished[key] else None) for key, value in out.items()}


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 25), st.integers(0, 200)), min_size=1, max_size=300),
    end=st.integers(0, 230),
    grain=st.sampled_from(sorted(GRAINS)),
)
def test_matches_a_brute_force_reference(rows, end, grain):
    base = d(date(2026, 11, 20))
    user = np.array([r[0] for r in rows])
    day = np.array([base + r[1] for r in rows])
    result = retention(user, day, last_day=base + end, grain=grain)
    expected = brute_force(user, day, base + end, grain)
    actual = {
        (int(c), int(n)): (None if r < 0 else (int(r), int(ub), int(s)))
        for c, n, r, ub, s in zip(
            result.cohort, result.period_number, result.retained, result.unbounded_retained, result.cohort_size, strict=True
        )
    }
    assert actual == expected
    rate, unbounded = result.rates()
    done = result.finished
    assert ((rate[done] >= 0) & (rate[done] <= 1)).all()
    assert (rate[done & (result.period_number == 0)] == 1).all()


def test_the_mean_retention_of_a_day_is_a_number_once_a_cohort_has_finished_it_and_says_why_before():
    import pandas as pd

    from product_analytics.retention.assets import mean_retention

    day = pd.DataFrame(
        {
            "period_number": [0, 1, 1, 1, 7],
            "retention_rate": [1.0, 0.5, 0.25, None, None],  # two cohorts finished day 1; none day 7
        }
    )
    assert mean_retention(day, 1).value == 0.375
    assert mean_retention(day, 7).value == "not yet: no daily cohort has a finished day 7 (it takes 8 days of data)"
