"""The retention checks pass on consistent tables and name each kind of inconsistency."""

from datetime import date

import duckdb
import numpy as np
import pytest

from product_analytics.retention.checks import check_retention_tables
from product_analytics.retention.cohorts import GRAINS, retention, to_frame

LAST_DAY = date(2026, 3, 12)


@pytest.fixture
def warehouse():
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute(
        """create table marts.fct_events as select * from (values
             ('a', date '2026-03-09'), ('a', date '2026-03-10'), ('a', date '2026-03-12'),
             ('b', date '2026-03-10'), ('c', date '2026-03-11'), ('c', date '2026-03-13')
           ) as t(visitor_id, event_date)"""
    )
    user = np.array([0, 0, 0, 1, 2])
    day = np.array([(date(2026, 3, x) - date(1970, 1, 1)).days for x in (9, 10, 12, 10, 11)])
    last = (LAST_DAY - date(1970, 1, 1)).days
    tables = [to_frame(retention(user, day, last, grain), grain) for grain in GRAINS]
    for i, table in enumerate(tables):
        conn.register(f"t{i}", table)
    conn.execute("create table marts.retention_cohorts as " + " union all ".join(f"select * from t{i}" for i in range(len(tables))))
    yield conn
    conn.close()


def outcome(conn):
    return {r["check_name"]: r["passed"] for r in check_retention_tables(conn, LAST_DAY)}


def test_consistent_tables_pass(warehouse):
    assert outcome(warehouse) == dict.fromkeys(
        ["cohort_sizes_reconcile", "rates_between_0_and_1", "unbounded_retention_never_rises", "day_0_retention_is_1"], True
    )


@pytest.mark.parametrize(
    ("corruption", "failing"),
    [
        (
            "update marts.retention_cohorts set cohort_size = cohort_size + 1 where grain = 'week' and period_number = 0",
            "cohort_sizes_reconcile",
        ),
        ("update marts.retention_cohorts set retention_rate = 1.5 where grain = 'day' and period_number = 1", "rates_between_0_and_1"),
        (
            "update marts.retention_cohorts set unbounded_retention_rate = 1.0 where grain = 'day' and period_number = 2",
            "unbounded_retention_never_rises",
        ),
        ("update marts.retention_cohorts set retention_rate = 0.5 where grain = 'day' and period_number = 0", "day_0_retention_is_1"),
    ],
)
def test_each_inconsistency_fails_its_check(warehouse, corruption, failing):
    warehouse.execute(corruption)
    results = outcome(warehouse)
    assert results[failing] is False
    assert [name for name, passed in results.items() if not passed][0] == failing
