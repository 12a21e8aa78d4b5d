"""The figures every table asset's materialization carries, on a hand-made table."""

from datetime import date, datetime, timedelta

import duckdb
from dagster import AssetKey

from product_analytics.policies.table_figures import MAX_DAYS_REPORTED_APART, Window, materializations_per_day, table_figures

D = date(2026, 3, 10)


def _warehouse() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute("create table marts.visits (visit_id varchar, started_at timestamp, pages integer, tags varchar[])")
    rows = [
        ("v1", datetime(2026, 3, 9, 23, 59, 59), 1),  # the day before the window
        ("v2", datetime(2026, 3, 10, 0, 0), 2),
        ("v3", datetime(2026, 3, 10, 23, 59, 59), 3),
        ("v4", datetime(2026, 3, 12, 8, 0), 4),
        ("v5", datetime(2026, 3, 13, 0, 0), 5),  # the day after
    ]
    conn.executemany("insert into marts.visits values (?, ?, ?, ['a'])", rows)
    return conn


def test_a_table_reports_its_rows_and_its_columns_with_their_types_and_descriptions():
    figures, per_day = table_figures(_warehouse(), "marts.visits", {"visit_id": "One visit.", "pages": ""})
    assert figures["dagster/row_count"].value == 5 and per_day == {}
    columns = figures["dagster/column_schema"].schema.columns
    assert [(c.name, c.type, c.description) for c in columns] == [
        ("visit_id", "varchar", "One visit."),
        ("started_at", "timestamp", None),
        ("pages", "integer", None),
        ("tags", "varchar[]", None),
    ]
    assert table_figures(_warehouse(), "marts.missing") == ({}, {})


def test_a_window_counts_its_days_only_and_each_day_apart_with_the_empty_ones():
    figures, per_day = table_figures(_warehouse(), "marts.visits", window=Window("started_at", D, D + timedelta(days=2)))
    assert per_day == {D: 2, D + timedelta(days=1): 0, D + timedelta(days=2): 1}
    assert figures["dagster/row_count"].value == 3
    assert "| 2026-03-11 | 0 |" in figures["rows_per_day"].value


def test_each_day_of_a_run_gets_its_own_materialization_with_the_run_metadata_and_its_count():
    figures, per_day = table_figures(_warehouse(), "marts.visits", window=Window("started_at", D, D + timedelta(days=2)))
    run_metadata = {**figures, "status": "success"}
    events = materializations_per_day(AssetKey(["marts", "visits"]), run_metadata, per_day, {D: {"note": "first"}})
    assert [(e.partition, e.metadata["dagster/row_count"].value) for e in events] == [
        ("2026-03-10", 2),
        ("2026-03-11", 0),
        ("2026-03-12", 1),
    ]
    assert all(e.metadata["status"].value == "success" and "rows_per_day" not in e.metadata for e in events)
    assert events[0].metadata["note"].value == "first" and "note" not in events[1].metadata
    # one day: the run's own materialization is the day's; a long backfill: its range's
    one_day = table_figures(_warehouse(), "marts.visits", window=Window("started_at", D, D))[1]
    assert materializations_per_day(AssetKey("visits"), figures, one_day) == []
    long_run = {D + timedelta(days=i): 1 for i in range(MAX_DAYS_REPORTED_APART + 1)}
    assert materializations_per_day(AssetKey("visits"), figures, long_run) == []
