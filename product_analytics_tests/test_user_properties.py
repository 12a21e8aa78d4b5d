"""dim_user_properties maintained incrementally equals a full rebuild.

The days are processed in order as the schedule would (lookback of two days, late
events arriving), each run touching only the users active in its window; then the
same warehouse is rebuilt from scratch and the two tables must match row for row.
"""

import json
from datetime import datetime, timedelta

import duckdb

from product_analytics.ingestion.load import load_events_day, load_source_day
from product_analytics.ingestion.sources import simulator_export
from product_analytics.simulator.landing import events_file, source_file
from product_analytics_tests.conftest import SIM_DAYS
from product_analytics_tests.harness import VARS, Warehouse

REBUILT = "int_anonymous_ids_mapped dim_users dim_user_properties"
COLUMNS = (
    "user_id, first_platform, first_game_id, first_utm_source, first_utm_medium, first_utm_campaign, "
    "country_at_signup, device_count, first_seen_at, signed_up_at, first_game_at"
)


def test_incremental_user_properties_equal_a_full_rebuild(landing, tmp_path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    lookback = 2
    for i, day in enumerate(SIM_DAYS):
        clock = datetime.combine(day + timedelta(days=1), datetime.min.time()) + timedelta(hours=3 + 7 * i)
        first = max(SIM_DAYS[0], day - timedelta(days=lookback))
        with duckdb.connect(str(warehouse.path)) as conn:
            d = first
            while d <= day:
                load_events_day(conn, d, simulator_export(events_file(landing / "landing", d), d, clock))
                d += timedelta(days=1)
            for table in ("users", "posts", "orders"):
                load_source_day(conn, table, day, source_file(landing / "landing", table, day))
        warehouse.build_days(first, day)
        warehouse.snapshot(day)
        warehouse.dbt("run", "--select", REBUILT, "--vars", json.dumps(VARS))
    incremental = warehouse.table(f"(select {COLUMNS} from marts.dim_user_properties)")

    warehouse.dbt("run", "--full-refresh", "--select", f"int_devices_attributed {REBUILT}", "--vars", json.dumps(VARS))
    rebuilt = warehouse.table(f"(select {COLUMNS} from marts.dim_user_properties)")

    with duckdb.connect() as conn:
        conn.register("incremental", incremental)
        conn.register("rebuilt", rebuilt)
        extra = conn.sql("select count(*) from (from incremental except all from rebuilt)").fetchall()[0][0]
        missing = conn.sql("select count(*) from (from rebuilt except all from incremental)").fetchall()[0][0]
        assert (extra, missing) == (0, 0)
        users, with_signup, with_game = conn.sql("select count(*), count(signed_up_at), count(first_game_id) from rebuilt").fetchall()[0]
    assert users > 100 and with_signup > 100 and with_game > 50
