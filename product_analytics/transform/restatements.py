"""Days of the daily models rebuilt because another day's load changed them.

When a message id is on two days, the copy received first is kept (ingestion records
the others in ``raw.superseded_events``). Loading a day can so take a message away from
a day already built; ``raw.restated_days`` lists such days. A run rebuilds the days of
its window and margin anyway; listed days outside them are rebuilt first, one by one,
so that no message is in two days' sessions when the run's tests look.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, timedelta

import duckdb

from product_analytics.ingestion.schema import raw_table_exists
from product_analytics.policies.partitions import PARTITION_MARGIN_DAYS


def _listed(conn: duckdb.DuckDBPyConnection) -> list[date]:
    if not raw_table_exists(conn, "restated_days"):
        return []
    return [d for (d,) in conn.execute("select distinct event_date from raw.restated_days order by 1").fetchall()]


def rebuilt_by_run(first: date, last: date) -> tuple[date, date]:
    """The first and last day a run of the partitions ``first``..``last`` rebuilds."""
    margin = timedelta(days=PARTITION_MARGIN_DAYS)
    return first - margin, last + margin


def to_rebuild_first(conn: duckdb.DuckDBPyConnection, first: date, last: date, start_date: date) -> list[date]:
    """Listed days from ``start_date`` on that a run of ``first``..``last`` would not rebuild."""
    low, high = rebuilt_by_run(first, last)
    return [d for d in _listed(conn) if d >= start_date and not low <= d <= high]


def forget(conn: duckdb.DuckDBPyConnection, first: date, last: date, start_date: date) -> None:
    """Forget the listed days ``first``..``last`` (rebuilt) and those before ``start_date`` (never built)."""
    if _listed(conn):
        conn.execute("delete from raw.restated_days where event_date between ? and ? or event_date < ?", [first, last, start_date])


def rebuild_restated_first(
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    first: date,
    last: date,
    start_date: date,
    rebuild_day: Callable[[date], None],
) -> list[date]:
    """Before a run of ``first``..``last``: rebuild (``rebuild_day``) and forget each listed day
    it would not rebuild itself; returns those days. After the run, call ``forget_run``."""
    with connect() as conn:
        days = to_rebuild_first(conn, first, last, start_date)
    for day in days:
        rebuild_day(day)
        with connect() as conn:
            forget(conn, day, day, start_date)
    return days


def forget_run(conn: duckdb.DuckDBPyConnection, first: date, last: date, start_date: date) -> None:
    """After a run of ``first``..``last``: forget the listed days it rebuilt."""
    forget(conn, *rebuilt_by_run(first, last), start_date)
