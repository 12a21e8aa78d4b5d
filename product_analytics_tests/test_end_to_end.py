"""Five days through Dagster: one single-run backfill of the whole graph, compared with a
day-by-day build of the same days in another warehouse."""

import subprocess
import sys
from datetime import date, datetime, timedelta

import duckdb
import pytest
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    DagsterInstance,
    Definitions,
    define_asset_job,
    in_process_executor,
    materialize,
)

from product_analytics.config import settings
from product_analytics.definitions import defs
from product_analytics.ingestion.assets import raw_events, raw_source_tables
from product_analytics.publishing.assets import reader_copy
from product_analytics.resources.dbt import dbt_cli
from product_analytics.resources.warehouse import Warehouse
from product_analytics.simulator.landing import events_file
from product_analytics.transform.assets import dbt_daily_models

DAYS = [date(2026, 3, 17) + timedelta(days=i) for i in range(5)]
RANGE_TAGS = {"dagster/asset_partition_range_start": DAYS[0].isoformat(), "dagster/asset_partition_range_end": DAYS[-1].isoformat()}


@pytest.fixture(scope="module")
def materialized():
    instance = DagsterInstance.ephemeral()
    ingestion = defs.resolve_job_def("daily_pipeline").execute_in_process(instance=instance, tags=RANGE_TAGS)
    models = defs.resolve_job_def("refresh_models").execute_in_process(instance=instance)
    return instance, ingestion, models


def test_ingestion_records_every_day_in_one_run(materialized):
    instance, ingestion, _ = materialized
    assert ingestion.success
    for table in ("events", "users", "posts", "orders"):
        assert instance.get_materialized_partitions(AssetKey(["raw", table])) == {d.isoformat() for d in DAYS}
    days = [_latest_metadata(instance, AssetKey(["raw", "events"]), day) for day in DAYS]
    assert all(metadata["rows_loaded"].value > 200 for metadata in days)
    assert sum(metadata["duplicates"].value for metadata in days) > 0


def _latest_metadata(instance, key: AssetKey, day: date | None = None) -> dict:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[day.isoformat()] if day else None), limit=1
    ).records
    return records[0].asset_materialization.metadata


def test_every_table_asset_reports_its_rows_and_typed_columns_and_each_day_its_own(materialized):
    instance, _, _ = materialized
    with duckdb.connect(str(settings().duckdb_path), read_only=True) as conn:

        def columns(schema: str, table: str) -> list[tuple[str, str]]:
            query = "select column_name, lower(data_type) from information_schema.columns where table_schema = ? and table_name = ?"
            return conn.execute(query + " order by ordinal_position", [schema, table]).fetchall()

        # an unpartitioned mart, a snapshot and retention: the whole table
        for schema, table in [("marts", "fct_sessions"), ("snapshots", "snap_users"), ("marts", "retention_cohorts")]:
            metadata = _latest_metadata(instance, AssetKey([schema, table]))
            assert metadata["dagster/row_count"].value == conn.execute(f"select count(*) from {schema}.{table}").fetchone()[0] > 0
            shown = [(c.name, c.type) for c in metadata["dagster/column_schema"].schema.columns]
            assert shown == columns(schema, table) and len(shown) > 5, table
        described = {
            c.name: c.description
            for c in _latest_metadata(instance, AssetKey(["marts", "fct_sessions"]))["dagster/column_schema"].schema.columns
        }
        assert described["session_number"] == "1, 2, ... per visitor, in order of start."
        retention = _latest_metadata(instance, AssetKey(["marts", "retention_cohorts"]))
        assert all(c.description for c in retention["dagster/column_schema"].schema.columns)
        # the funnel's table: its latest day's steps and the totals to date, as the mart holds them
        funnel = _latest_metadata(instance, AssetKey(["marts", "agg_product_funnel_daily"]))
        latest = conn.execute(
            "select viewed_sessions, added_sessions, checkout_sessions, ordered_sessions, viewed_sessions_to_date, added_sessions_to_date,"
            " checkout_sessions_to_date, ordered_sessions_to_date from marts.agg_product_funnel_daily order by session_date desc limit 1"
        ).fetchone()
        shown = [r.data for r in funnel["funnel"].records]
        assert [r["latest_day"] for r in shown] + [r["to_date"] for r in shown] == list(latest) and latest[0] > 0
        assert funnel["funnel_latest_day"].value == max(DAYS).isoformat()
        # active users: the latest day per platform as the mart holds it, and the total's
        # daily count the distinct visitors of fct_events that day
        active = _latest_metadata(instance, AssetKey(["marts", "agg_active_users_daily"]))
        assert active["active_users_latest_day"].value == max(DAYS).isoformat()
        shown = {r.data["platform"]: (r.data["dau"], r.data["mau"]) for r in active["active_users"].records}
        held = conn.execute("select platform, dau, mau from marts.agg_active_users_daily where activity_date = ?", [max(DAYS)]).fetchall()
        assert shown == {p: (dau, mau) for p, dau, mau in held} and len(shown) >= 3
        daily_visitors = conn.execute(
            "select event_date, count(distinct visitor_id) from marts.fct_events group by 1 order by 1"
        ).fetchall()
        totals = conn.execute("select activity_date, dau from marts.agg_active_users_daily where platform = 'all' order by 1").fetchall()
        assert totals == daily_visitors and len(totals) >= len(DAYS)
        # attribution: every order of fct_events, its revenue credited in full by each model,
        # the daily aggregate the sum of the touches
        orders, revenue = conn.execute(
            "select count(*), sum(revenue) from marts.fct_events where event_name = 'order_completed'"
        ).fetchone()
        attributed = conn.execute(
            "select count(distinct conversion_event_id), sum(linear_revenue), sum(time_decay_revenue), sum(position_based_revenue)"
            " from marts.fct_conversion_attribution"
        ).fetchone()
        assert orders > 0 and attributed[0] == orders
        assert all(abs(credited - revenue) < 1e-6 * revenue for credited in attributed[1:])
        daily = conn.execute("select sum(touches), sum(first_touch_revenue) from marts.agg_attribution_daily").fetchone()
        touches = conn.execute("select count(*), sum(first_touch_revenue) from marts.fct_conversion_attribution").fetchone()
        assert daily[0] == touches[0] > orders and abs(daily[1] - touches[1]) < 1e-6 * revenue
        # partitioned assets: the run's five days, and each day's partition its own count
        for key, relation, column in [
            (AssetKey(["raw", "events"]), "raw.events", "event_date"),
            (AssetKey(["intermediate", "int_events_sessionized"]), "intermediate.int_events_sessionized", "session_start_at"),
            (AssetKey(["staging", "stg_app__events"]), "staging.stg_app__events", "event_date"),
        ]:
            per_day = dict(conn.execute(f"select {column}::date, count(*) from {relation} group by 1").fetchall())
            for day in DAYS:
                assert _latest_metadata(instance, key, day)["dagster/row_count"].value == per_day[day] > 0, (key, day)


def test_warehouse_holds_exactly_the_landed_events(materialized):
    s = settings()
    clock = s.ingest_clock
    with duckdb.connect(str(s.duckdb_path), read_only=True) as conn:
        for day in DAYS:
            start = datetime.combine(day, datetime.min.time())
            expected = conn.execute(
                "select count(distinct message_id) from read_parquet(?) where timestamp >= ? and timestamp < ? and received_at <= ?",
                [str(events_file(s.landing_dir, day)), start, start + timedelta(days=1), clock],
            ).fetchone()[0]
            loaded = conn.execute("select count(*) from raw.events where event_date = ?", [day]).fetchone()[0]
            assert loaded == expected > 0
        tracked = conn.execute("select count(distinct message_id) from raw.events where type != 'identify'").fetchone()[0]
        assert conn.execute("select count(*) from staging.stg_app__events").fetchone()[0] == tracked
        users = conn.execute("select count(*) from raw.users").fetchone()[0]
        assert conn.execute("select count(*) from staging.stg_app__users").fetchone()[0] == users > 0


def test_dbt_tests_ran_as_passing_asset_checks(materialized):
    _, ingestion, models = materialized
    evaluations = ingestion.get_asset_check_evaluations() + models.get_asset_check_evaluations()
    assert models.success
    assert [e.check_name for e in evaluations if not e.passed] == []
    definitions = [*defs.assets, *(defs.asset_checks or [])]
    expected = {
        key
        for definition in definitions
        if hasattr(definition, "check_keys")
        for key in definition.check_keys
        if key.name != "latest_partition_loaded"  # evaluated by the freshness sensor, not by the pipeline
    }
    assert {e.asset_check_key for e in evaluations} == expected
    assert any(e.check_name == "assert_every_event_in_exactly_one_session" for e in evaluations)


def test_every_event_of_the_window_is_in_one_session(materialized):
    s = settings()
    with duckdb.connect(str(s.duckdb_path), read_only=True) as conn:
        sessions_by_day = dict(conn.execute("select session_date, count(*) from marts.fct_sessions group by 1").fetchall())
        assert set(sessions_by_day) == set(DAYS)
        # Every deduplicated event of the second day is in exactly one session (the first
        # day's events may continue a session of the day before, which was not processed).
        missing = conn.execute(
            """select count(*) from staging.stg_app__events e
               anti join marts.fct_events f using (event_id) where e.event_date = ?""",
            [DAYS[1]],
        ).fetchone()[0]
        assert missing == 0
        events, sessions = conn.execute("select count(*), count(distinct session_id) from marts.fct_events").fetchone()
        assert sessions == sum(sessions_by_day.values()) and events > sessions


_HELD_READER = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
print(conn.execute("select run_id from publication").fetchone()[0], flush=True)
sys.stdin.readline()  # the test publishes again meanwhile
print(conn.execute("select run_id from publication").fetchone()[0], conn.execute("select count(*) from marts.fct_events").fetchone()[0])
"""


def _published_run(path) -> str:
    code = "import sys, duckdb; print(duckdb.connect(sys.argv[1], read_only=True).execute('select run_id from publication').fetchone()[0])"
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout.strip()


def test_readers_get_a_copy_of_the_public_tables_that_never_blocks_a_run(materialized):
    """Regression: the only way to read the marts was the warehouse file, and a reader on it
    made the next run wait and fail."""
    instance, ingestion, _ = materialized
    s = settings()
    copy = s.reader_copy_path
    # A reader keeps the pipeline's copy open while a run publishes again (after the refresh
    # of the unpartitioned models): the run does not wait for it, the reader keeps its
    # tables, and a new reader sees the new copy.
    reader = subprocess.Popen([sys.executable, "-c", _HELD_READER, str(copy)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == ingestion.run_id
        warehouse = Warehouse(database=str(s.duckdb_path), lock_timeout_seconds=0)
        again = materialize([reader_copy], instance=instance, resources={"duckdb": warehouse})
        assert again.success
        assert _published_run(copy) == again.run_id != ingestion.run_id
        held_run, held_events = reader.communicate("go\n", timeout=60)[0].split()
    finally:
        reader.kill()
    assert held_run == ingestion.run_id and int(held_events) > 1000

    # The copy holds every table and view of marts and snapshots, row for row, and nothing else.
    conn = duckdb.connect()
    conn.execute(f"attach '{s.duckdb_path}' as warehouse (read_only)")
    conn.execute(f"attach '{copy}' as copy (read_only)")
    public = "select table_schema || '.' || table_name from information_schema.tables where table_catalog = ? and table_schema <> 'main'"
    expected = {t for (t,) in conn.execute(public + " and table_schema in ('marts', 'snapshots')", ["warehouse"]).fetchall()}
    assert {"marts.fct_sessions", "marts.retention_cohorts", "snapshots.snap_users"} <= expected
    assert {t for (t,) in conn.execute(public, ["copy"]).fetchall()} == expected
    for table in sorted(expected):
        differ = f"select * from warehouse.{table} except all select * from copy.{table}"
        counts = f"select (select count(*) from warehouse.{table}), (select count(*) from copy.{table}), (select count(*) from ({differ}))"
        rows, copied, different = conn.execute(counts).fetchone()
        assert (table, copied, different) == (table, rows, 0)
    assert conn.execute("select run_id, tables from copy.publication").fetchone() == (again.run_id, len(expected))
    conn.close()  # the next tests open the warehouse file again in this process


def test_the_marts_kept_by_key_revisit_only_what_changed_unless_fully_refreshed(materialized):
    """A visitor's row of fct_user_sessions, removed by hand: a refresh with nothing new
    leaves it missing (no day was rebuilt, no session replaced), the full refresh of the
    run config brings it back as it was."""
    instance, _, _ = materialized
    path = str(settings().duckdb_path)
    with duckdb.connect(path) as conn:
        before = conn.execute("select * from marts.fct_user_sessions order by visitor_id").fetchall()
        visitor = before[len(before) // 2][0]
        conn.execute("delete from marts.fct_user_sessions where visitor_id = ?", [visitor])
    refresh = defs.resolve_job_def("refresh_models")
    selection = [AssetKey(["marts", "fct_user_sessions"])]
    assert refresh.execute_in_process(instance=instance, asset_selection=selection).success
    with duckdb.connect(path, read_only=True) as conn:
        assert conn.execute("select count(*) from marts.fct_user_sessions").fetchone()[0] == len(before) - 1
    full = {"ops": {"dbt_unpartitioned_models": {"config": {"full_refresh": True}}}}
    assert refresh.execute_in_process(instance=instance, asset_selection=selection, run_config=full).success
    with duckdb.connect(path, read_only=True) as conn:
        assert conn.execute("select * from marts.fct_user_sessions order by visitor_id").fetchall() == before


def _tables(conn, schema: str) -> list[str]:
    rows = conn.execute("select table_name from information_schema.tables where table_schema = ? order by 1", [schema]).fetchall()
    return [name for (name,) in rows]


def test_a_five_day_backfill_equals_a_day_by_day_build(materialized, tmp_path, monkeypatch):
    """The same days, one run per day for the partitioned assets, then one run for the rest."""
    by_day_path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("PA_DUCKDB_PATH", str(by_day_path))
    monkeypatch.setenv("PA_READER_COPY_PATH", str(tmp_path / "readers.duckdb"))
    partitioned = define_asset_job("by_day", selection=AssetSelection.assets(raw_events, raw_source_tables, dbt_daily_models))
    rest = define_asset_job("rest", selection=AssetSelection.all() - AssetSelection.assets(raw_events, raw_source_tables, dbt_daily_models))
    by_day = Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=[partitioned, rest],
        executor=in_process_executor,
        resources={**defs.resources, "duckdb": Warehouse(database=str(by_day_path)), "dbt": dbt_cli()},
    )
    instance = DagsterInstance.ephemeral()
    for day in DAYS:
        assert by_day.resolve_job_def("by_day").execute_in_process(instance=instance, partition_key=day.isoformat()).success
    assert by_day.resolve_job_def("rest").execute_in_process(instance=instance).success

    conn = duckdb.connect()
    conn.execute(f"attach '{settings().duckdb_path}' as backfill (read_only)")
    conn.execute(f"attach '{by_day_path}' as by_day (read_only)")
    marts = _tables(conn, "marts")
    assert len(marts) > 15 and "fct_sessions" in marts and "retention_cohorts" in marts
    for schema, table in [("marts", t) for t in marts] + [("snapshots", "snap_users"), ("snapshots", "snap_orders")]:
        both = f"(select count(*) from backfill.{schema}.{table}), (select count(*) from by_day.{schema}.{table})"
        counts = conn.execute(f"select {both}").fetchall()[0]
        differ = conn.execute(
            f"""select count(*) from (
                    (select * from backfill.{schema}.{table} except all select * from by_day.{schema}.{table})
                    union all
                    (select * from by_day.{schema}.{table} except all select * from backfill.{schema}.{table})
                )"""
        ).fetchall()[0][0]
        assert (table, differ, counts[0]) == (table, 0, counts[1])
    loaded = conn.execute("select count(*) from backfill.raw.events").fetchall()[0][0]
    assert loaded == conn.execute("select count(*) from by_day.raw.events").fetchall()[0][0] > 5000


def test_the_audit_trail_holds_one_row_per_asset_of_each_run_with_its_figures(materialized):
    instance, ingestion, models = materialized
    with duckdb.connect(str(settings().duckdb_path), read_only=True) as conn:
        columns = "asset_key, job_name, first_day, last_day, status, dbt_node, rows_loaded, rows_quarantined, rows_written, row_count"
        columns += ", seconds, checks_passed, checks_failed, checks_warned"
        found = conn.execute(f"select {columns}, step from audit.audit_runs where run_id = ?", [ingestion.run_id]).fetchall()
        loaded = conn.execute("select count(*) from raw.events where event_date between ? and ?", [DAYS[0], DAYS[-1]]).fetchone()[0]
        quarantined = conn.execute(
            "select count(*) from raw.quarantine where source = 'events' and partition_date between ? and ?", [DAYS[0], DAYS[-1]]
        ).fetchone()[0]
        refreshed = conn.execute("select asset_key, job_name, first_day from audit.audit_runs where run_id = ?", [models.run_id]).fetchall()
        sessionized = conn.execute(
            "select count(*) from intermediate.int_events_sessionized where session_start_at::date between ? and ?", [DAYS[0], DAYS[-1]]
        ).fetchone()[0]
    # one row per step and asset: an asset checked in a step of its own has a second row
    check_step = "marts__fct_social_sessions_social_inference_matches_simulator_truth"
    assert [(r[0], r[-1]) for r in found if r[-1] == check_step] == [("marts/fct_social_sessions", check_step)]
    rows = {r[0]: r for r in found if r[-1] != check_step}
    assert len(rows) == len(found) - 1
    # every asset the run materialized, but the trail's own asset, which shows the rows
    materialized_keys = {e.asset_key.to_user_string() for e in ingestion.get_asset_materialization_events()}
    assert set(rows) == materialized_keys - {"audit/audit_runs"}
    assert all(r[1:5] == ("daily_pipeline", DAYS[0], DAYS[-1], "success") for r in rows.values())
    # ingestion: loaded and quarantined as the warehouse holds them, all of it written
    raw = rows["raw/events"]
    assert (raw[6], raw[7], raw[8], raw[9]) == (loaded, quarantined, loaded, loaded) and loaded > 0 and raw[5] is None
    # each asset's checks, as the run evaluated them
    checks: dict[str, list[bool]] = {}
    for evaluation in ingestion.get_asset_check_evaluations():
        checks.setdefault(evaluation.asset_key.to_user_string(), []).append(evaluation.passed)
    for key in rows:
        passed, not_passed = (sum(r[i] for r in found if r[0] == key) for i in (11, 12))
        warned = sum(r[13] for r in found if r[0] == key)
        assert (passed, not_passed + warned) == (sum(checks.get(key, [])), len(checks.get(key, [])) - sum(checks.get(key, []))), key
    # dbt nodes: their id, dbt's time, the run's row count; written rows by materialization
    runs_figures = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in ingestion.get_asset_materialization_events()
        if e.step_materialization_data.materialization.partition is None
    }
    sessions, view, daily = rows["marts/fct_sessions"], rows["staging/stg_app__events"], rows["intermediate/int_events_sessionized"]
    assert sessions[5] == "model.product_analytics.fct_sessions" and sessions[10] > 0
    assert sessions[9] == runs_figures["marts/fct_sessions"]["dagster/row_count"].value > 0 and sessions[8] is None  # kept by key
    assert view[8] == 0 and daily[8] == daily[9] == sessionized > 0  # a daily model: the rows of the run's days
    assert rows["snapshots/snap_users"][5] == "snapshot.product_analytics.snap_users"
    # the run without partitions: its own rows, no days
    assert refreshed and all(r[1:] == ("refresh_models", None) for r in refreshed)
    # the trail's asset shows the run's rows
    shown = _latest_metadata(instance, AssetKey(["audit", "audit_runs"]))
    assert len(shown["this_run"].records) == len(found) and shown["assets_not_successful"].value == 0
    assert {r.data["asset_key"] for r in shown["this_run"].records} == set(rows)


def test_the_metrics_of_the_semantic_layer_equal_the_marts_they_are_defined_on(materialized, tmp_path):
    """MetricFlow, as the README runs it, on the pipeline's warehouse: daily active users
    from agg_active_users_daily and from fct_events' distinct visitors, stickiness, session
    conversion and revenue per day, and attributed revenue per channel."""

    def query(*args: str) -> list[dict]:
        out = tmp_path / "metrics.csv"
        done = subprocess.run(
            [sys.executable, "-m", "product_analytics.metrics", "query", *args, "--csv", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0 and out.exists(), done.stdout + done.stderr
        with duckdb.connect() as conn:
            return [
                dict(zip([c[0] for c in rel.description], row, strict=True))
                for rel in [conn.sql(f"from read_csv('{out}')")]
                for row in rel.fetchall()
            ]

    daily = query(
        "--metrics", "daily_active_users,active_users,stickiness,sessions,session_conversion_rate,revenue", "--group-by", "metric_time__day"
    )
    by_channel = query("--metrics", "attributed_revenue_linear,attributed_revenue_time_decay", "--group-by", "conversion_touch__channel")
    with duckdb.connect(str(settings().duckdb_path), read_only=True) as conn:
        expected = conn.execute(
            """select activity_date, dau, stickiness, sessions, ordering / sessions, revenue
            from marts.agg_active_users_daily
            join (select session_date as activity_date, count(*) as sessions,
                         count(*) filter (order_completed_count > 0) as ordering
                  from marts.fct_sessions group by 1) using (activity_date)
            left join (select event_date as activity_date, sum(revenue) as revenue from marts.fct_events
                       where event_name = 'order_completed' group by 1) using (activity_date)
            where platform = 'all' order by 1"""
        ).fetchall()
        channels = dict(conn.execute("select channel, sum(linear_revenue) from marts.fct_conversion_attribution group by 1").fetchall())
    shown = sorted(
        (r["metric_time__day"].date(), r["daily_active_users"], r["stickiness"], r["sessions"], r["session_conversion_rate"], r["revenue"])
        for r in daily
        if r["sessions"]
    )
    assert len(shown) == len(expected) >= len(DAYS)
    for got, want in zip(shown, expected, strict=True):
        assert got[:2] == want[:2] and got[3] == want[3], (got, want)
        for a, b in [(got[2], want[2]), (got[4], want[4]), (got[5] or 0, want[5] or 0)]:
            assert abs(a - b) < 1e-6 * max(1, abs(b)), (got, want)
    assert all(r["active_users"] == r["daily_active_users"] for r in daily if r["daily_active_users"])
    assert {r["conversion_touch__channel"]: round(r["attributed_revenue_linear"], 6) for r in by_channel} == {
        c: round(v, 6) for c, v in channels.items()
    }
    assert sum(r["attributed_revenue_time_decay"] for r in by_channel) == pytest.approx(sum(channels.values())) and channels
