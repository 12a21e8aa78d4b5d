"""Pictures and tables on asset pages: where a picture is kept, the funnel's figures on a
hand-made funnel, and the cohort table's cells."""

import struct
from datetime import date

import duckdb
import numpy as np
import pytest
from dagster import DagsterInstance, instance_for_test

from product_analytics.config import settings
from product_analytics.policies.pictures import picture, picture_path
from product_analytics.retention.render import cohort_table, heatmap_png
from product_analytics.transform.active_users_chart import active_users_figures
from product_analytics.transform.funnel_chart import funnel_figures


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])  # the IHDR chunk's width and height


def test_a_picture_goes_where_the_webserver_serves_it_and_the_entry_shows_it_in_place():
    png = heatmap_png(["2026-03-10"], np.array([[1.0, 0.5, np.nan]]))
    with instance_for_test() as instance:
        entry = picture(instance, "run-1", "retention_heatmap", png, "heatmap")
        assert entry.value == "![heatmap](/logs/pictures/run-1/retention_heatmap/png)"
        # what the webserver's /logs/<key...>/<extension> route reads for that address
        served = instance.compute_log_manager.get_captured_local_path(["pictures", "run-1", "retention_heatmap"], "png")
        assert open(served, "rb").read() == png
        assert picture_path(instance, "run-1", "retention_heatmap") is not None
        with pytest.raises(ValueError, match="plain identifier"):
            picture(instance, "run-1", "../escape", png, "heatmap")
    width, height = _png_size(png)
    assert width > 400 and height > 100


def test_an_instance_that_cannot_serve_a_picture_keeps_it_in_the_data_folder():
    instance = DagsterInstance.ephemeral()  # compute logs not on local disk
    entry = picture(instance, "run-2", "session_funnel", b"\x89PNG\r\n\x1a\nnot a real image", "funnel")
    expected = settings().data_dir / "pictures" / "run-2" / "session_funnel.png"
    assert entry.value == str(expected) and expected.read_bytes().endswith(b"not a real image")


def _funnel(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute(
        """create table marts.agg_product_funnel_daily (
            session_date date,
            viewed_sessions hugeint, added_sessions hugeint, checkout_sessions hugeint, ordered_sessions hugeint,
            viewed_sessions_to_date hugeint, added_sessions_to_date hugeint,
            checkout_sessions_to_date hugeint, ordered_sessions_to_date hugeint)"""
    )
    if rows:
        conn.executemany("insert into marts.agg_product_funnel_daily values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return conn


def test_the_funnel_shows_its_latest_day_beside_the_totals_to_date():
    conn = _funnel(
        [
            (date(2026, 3, 10), 10, 4, 2, 1, 10, 4, 2, 1),
            (date(2026, 3, 11), 8, 2, 1, 0, 18, 6, 3, 1),  # the latest day
        ]
    )
    with instance_for_test() as instance:
        figures = funnel_figures(conn, "marts.agg_product_funnel_daily", instance, "run-3")
        assert figures["funnel_chart"].value == "![session funnel: latest day and to date](/logs/pictures/run-3/session_funnel/png)"
        png = open(picture_path(instance, "run-3", "session_funnel"), "rb").read()
    assert _png_size(png)[0] > 400
    assert figures["funnel_latest_day"].value == "2026-03-11"
    rows = [r.data for r in figures["funnel"].records]
    assert rows == [
        {"step": "page viewed", "latest_day": 8, "latest_day_share": "100.0%", "to_date": 18, "to_date_share": "100.0%"},
        {"step": "product added", "latest_day": 2, "latest_day_share": "25.0%", "to_date": 6, "to_date_share": "33.3%"},
        {"step": "checkout started", "latest_day": 1, "latest_day_share": "12.5%", "to_date": 3, "to_date_share": "16.7%"},
        {"step": "order completed", "latest_day": 0, "latest_day_share": "0.0%", "to_date": 1, "to_date_share": "5.6%"},
    ]


def test_an_empty_funnel_says_so_instead_of_a_blank_chart():
    with instance_for_test() as instance:
        figures = funnel_figures(_funnel([]), "marts.agg_product_funnel_daily", instance, "run-4")
    assert list(figures) == ["funnel"] and "no session day yet" in figures["funnel"].value


def test_the_cohort_table_has_every_day_of_every_cohort_and_leaves_unfinished_days_blank():
    rates = np.array([[1.0, 0.5, 0.25], [1.0, 1 / 3, np.nan]])
    table = cohort_table(["2026-03-10", "2026-03-11"], [4, 3], rates)
    assert [c.name for c in table.schema.columns] == ["cohort", "users", "day_0", "day_1", "day_2"]
    assert [r.data for r in table.records] == [
        {"cohort": "2026-03-10", "users": 4, "day_0": "100%", "day_1": "50%", "day_2": "25%"},
        {"cohort": "2026-03-11", "users": 3, "day_0": "100%", "day_1": "33%", "day_2": ""},
    ]


def test_active_users_show_the_days_in_total_and_the_latest_day_per_platform():
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute(
        """create table marts.agg_active_users_daily (
            activity_date date, platform varchar, dau bigint, wau bigint, mau bigint, stickiness double,
            new_users bigint, returning_users bigint, resurrecting_users bigint, dormant_users bigint)"""
    )
    conn.executemany(
        "insert into marts.agg_active_users_daily values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (date(2026, 3, 10), "all", 4, 4, 4, 1.0, 4, 0, 0, 0),
            (date(2026, 3, 11), "all", 3, 5, 5, 0.6, 1, 2, 0, 2),  # the latest day
            (date(2026, 3, 11), "web", 2, 3, 3, 2 / 3, 1, 1, 0, 1),
            (date(2026, 3, 11), "ios", 0, 2, 2, 0.0, 0, 0, 0, 1),
        ],
    )
    with instance_for_test() as instance:
        figures = active_users_figures(conn, "marts.agg_active_users_daily", instance, "run-5")
        assert figures["active_users_chart"].value == "![active users and lifecycle, all platforms](/logs/pictures/run-5/active_users/png)"
        assert _png_size(open(picture_path(instance, "run-5", "active_users"), "rb").read())[0] > 400
    assert figures["active_users_latest_day"].value == "2026-03-11"
    rows = [
        (r.data["platform"], r.data["dau"], r.data["mau"], r.data["dormant_users"], r.data["stickiness"])
        for r in figures["active_users"].records
    ]
    assert rows == [("all", 3, 5, 2, "60.0%"), ("ios", 0, 2, 1, "0.0%"), ("web", 2, 3, 1, "66.7%")]
    empty = duckdb.connect()
    empty.execute(
        "create table agg (activity_date date, platform varchar, dau bigint, wau bigint, mau bigint, stickiness double,"
        " new_users bigint, returning_users bigint, resurrecting_users bigint, dormant_users bigint)"
    )
    with instance_for_test() as instance:
        assert "no active day yet" in active_users_figures(empty, "agg", instance, "run-6")["active_users"].value
