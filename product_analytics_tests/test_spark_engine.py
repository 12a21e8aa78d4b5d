"""The Spark engine (docs/scale.md): the dbt project on a local Spark equals DuckDB row for
row: the staging layer, and every model above it outside the snapshots' branch (the
SCD2 history and what reads it are not on Spark yet: issue #14).

Three simulated days of events (with copies of messages on two days and within a day)
and of the operational tables' images are loaded into DuckDB by ingestion, written as the
raw Parquet partitions Spark reads (ingestion/spark_landing.py), and the same models are
built by dbt-duckdb and by dbt-spark's in-process session (one Spark for the module):
the first two days as a first build, then the third day as a daily run, so that every
incremental model, daily or kept by key, takes its incremental path on both engines.
"""

import json
import os
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
from dbt.cli.main import dbtRunner

from product_analytics.config import DBT_PROJECT_DIR
from product_analytics.ingestion.load import load_events_day, load_source_day
from product_analytics.ingestion.sources import simulator_export
from product_analytics.ingestion.spark_landing import day_file, write_day
from product_analytics.policies.partitions import dbt_window_args
from product_analytics.simulator import LandingWriter, SimulationConfig
from product_analytics.simulator.landing import events_file, source_file
from product_analytics_tests.conftest import START
from product_analytics_tests.harness import VARS, Warehouse

pytestmark = pytest.mark.spark

DAYS = [date(2026, 3, 20), date(2026, 3, 21), date(2026, 3, 22)]
TABLES = ["users", "posts", "orders"]
STAGING = ["stg_app__events", "stg_app__identifies", "stg_app__users", "stg_app__posts", "stg_app__orders"]
NOT_ON_SPARK = ["--exclude", "snap_users+", "snap_posts+", "snap_orders+"]  # the SCD2 branch
# Columns that hold when a run wrote the row, not what the row says.
WRITE_TIMES = {"int_days_rebuilt": "rebuilt_at", "int_devices_attributed": "refreshed_at"}
ABOVE_STAGING = [
    *("intermediate." + m for m in [
        "int_anonymous_ids_linked", "int_anonymous_ids_mapped", "int_conversions", "int_days_rebuilt",
        "int_device_days_aggregated", "int_device_platform_days", "int_devices_attributed", "int_devices_flagged_runaway",
        "int_events_mapped", "int_events_sessionized", "int_play_sessions_paired", "int_sessions_aggregated",
        "int_social_joins_inferred", "int_visitor_active_days", "int_order_images_selected",
    ]),
    *("marts." + m for m in [
        "agg_active_users_daily", "agg_attribution_daily", "agg_post_daily", "agg_product_funnel_daily",
        "agg_purchase_funnel", "agg_viewer_daily", "fct_conversion_attribution", "fct_event_paths", "fct_events",
        "fct_play_sessions", "fct_sessions", "fct_social_session_participants", "fct_social_sessions",
        "fct_user_sessions",
    ]),
]  # fmt: skip


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """The DuckDB warehouse and the Spark warehouse folder, both built; the Spark session."""
    root = tmp_path_factory.mktemp("spark_engine")
    LandingWriter(SimulationConfig(seed=3, epoch=START, daily_users=40), root / "landing", root / "truth").write_days(DAYS)
    resend_across_days(root / "landing")
    warehouse = Warehouse(root / "warehouse.duckdb")
    clock = datetime.combine(DAYS[-1] + timedelta(days=2), datetime.min.time())
    spark_dir = root / "spark"
    with pytest.MonkeyPatch.context() as env:  # dbt's profile reads them; the rest of the suite must not
        for days in (DAYS[:2], DAYS[2:]):  # a first build, then a daily run
            with duckdb.connect(str(warehouse.path)) as conn:
                for day in days:
                    load_events_day(conn, day, simulator_export(events_file(root / "landing", day), day, clock))
                    for table in TABLES:
                        load_source_day(conn, table, day, source_file(root / "landing", table, day))
                    write_day(conn, spark_dir, day)
            window = dbt_window_args(*(datetime.combine(d, datetime.min.time()) for d in (days[0], days[-1] + timedelta(days=1))))
            warehouse.dbt("run", *NOT_ON_SPARK, *window, "--vars", json.dumps(VARS))
            env.setenv("PA_ENGINE", "spark")
            env.setenv("PA_SPARK_WAREHOUSE_DIR", str(spark_dir))
            result = dbtRunner().invoke(
                ["run", *NOT_ON_SPARK, *window, "--vars", json.dumps(VARS), "--project-dir", str(DBT_PROJECT_DIR),
                 "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(root / "dbt_target_spark"), "--quiet"]
            )  # fmt: skip
            env.delenv("PA_ENGINE")
            failed = [(r.node.name, r.message) for r in getattr(result.result, "results", []) if r.status != "success"]
            assert result.success, f"dbt on Spark failed: {result.exception or failed}"
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # the session dbt-spark started in this process
    yield warehouse, spark_dir, spark
    spark.stop()


def resend_across_days(landing) -> None:
    """Ten messages of the first day sent again on the second with a later time: ingestion
    keeps the earliest received copy and records the other as superseded."""
    first, second = (events_file(landing, d) for d in DAYS[:2])
    with duckdb.connect() as conn:
        conn.execute(
            f"""copy (
                    from read_parquet('{second}')
                    union all by name
                    (select * replace ("timestamp" + interval 1 day as "timestamp", received_at + interval 1 day as received_at)
                     from read_parquet('{first}') where type = 'track' order by message_id limit 10)
                ) to '{second}.new' (format parquet)"""
        )
    os.replace(f"{second}.new", second)


def normalized(rows: list[dict]) -> list[tuple]:
    """Rows comparable across engines: instants as naive UTC, floats to 9 places, JSON parsed."""

    def value(v):
        if isinstance(v, datetime):
            return (v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v).isoformat()
        if isinstance(v, float):
            return round(v, 9)
        if isinstance(v, str) and v.startswith("{"):
            return json.dumps(json.loads(v), sort_keys=True)
        return v

    return sorted((tuple(value(row[k]) for k in sorted(row)) for row in rows), key=repr)


def test_the_raw_partitions_hold_each_day_once_with_its_superseded_copies(engines):
    warehouse, spark_dir, spark = engines
    assert sorted(p.name for p in (spark_dir / "raw" / "events").iterdir()) == [f"event_date={d}" for d in DAYS]
    for day in DAYS:
        assert all(day_file(spark_dir, table, day).exists() for table in ["events", "superseded_events", *TABLES])
    on_spark = spark.sql("select event_date, count(*) from raw.events group by event_date order by 1").collect()
    with duckdb.connect(str(warehouse.path)) as conn:
        in_duckdb = conn.sql("select event_date, count(*) from raw.events group by 1 order by 1").fetchall()
        superseded = conn.sql("select count(*) from raw.superseded_events").fetchall()[0][0]
    assert [tuple(r) for r in on_spark] == in_duckdb
    assert superseded == 10  # the resent copies, on the second day
    assert spark.sql("select count(*) from raw.superseded_events").collect()[0][0] == superseded
    for table in TABLES:
        on_spark = spark.sql(f"select snapshot_date, count(*) from raw.{table} group by 1 order by 1").collect()
        with duckdb.connect(str(warehouse.path)) as conn:
            in_duckdb = conn.sql(f"select snapshot_date, count(*) from raw.{table} group by 1 order by 1").fetchall()
        assert [tuple(r) for r in on_spark] == in_duckdb and len(in_duckdb) == len(DAYS), table


@pytest.mark.parametrize("model", STAGING)
def test_a_staging_model_on_spark_equals_duckdb_row_for_row(engines, model):
    warehouse, _, spark = engines
    duck = warehouse.table(f"staging.{model}").to_pylist()
    sparked = [row.asDict() for row in spark.table(f"staging.{model}").collect()]
    assert len(duck) > (500 if model == "stg_app__events" else 5)
    assert sorted(sparked[0]) == sorted(duck[0]), "the same columns"
    assert normalized(sparked) == normalized(duck)


@pytest.mark.parametrize("relation", ABOVE_STAGING)
def test_a_model_above_staging_on_spark_equals_duckdb_row_for_row(engines, relation):
    warehouse, _, spark = engines
    duck = warehouse.table(relation).to_pylist()
    sparked = [row.asDict() for row in spark.table(relation).collect()]
    # the same columns (a partitioned table on Spark lists its partition column last)
    assert sorted(spark.table(relation).columns) == sorted(warehouse.table(relation).column_names)
    for row in duck + sparked:
        row.pop(WRITE_TIMES.get(relation.split(".")[1]), None)
    assert normalized(sparked) == normalized(duck)


def test_the_fixture_reaches_every_kind_of_row(engines):
    """Rows for the comparisons to hold: sessions on each day, conversions with credit,
    play sessions closed by a timeout, more than one session for some visitor."""
    warehouse, _, _ = engines
    sessions = warehouse.table("marts.fct_sessions").to_pylist()
    assert {s["session_start_at"].date() for s in sessions} >= set(DAYS)
    assert max(s["session_number"] for s in sessions) > 1
    assert len(warehouse.table("marts.fct_conversion_attribution")) > 0
    assert any(p["is_closed_by_timeout"] for p in warehouse.table("marts.fct_play_sessions").to_pylist())
