"""Failures the operations must survive: a writer outside Dagster, a run killed mid-way."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import duckdb
from dagster import (
    AssetSelection,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    build_sensor_context,
    job,
    materialize,
    op,
)

from product_analytics.automation.sensors import dead_run_reaper
from product_analytics.config import PROJECT_ROOT
from product_analytics.ingestion.assets import raw_events
from product_analytics.ingestion.sources import FileSource, SimulatorSource
from product_analytics.instance import ensure_dagster_home
from product_analytics.project import dbt_project
from product_analytics.resources.dbt import DBT_SHIM, DbtCli
from product_analytics.resources.warehouse import Warehouse
from product_analytics.simulator.landing import events_file
from product_analytics.transform.assets import SNAPSHOT_JOB_KEYS, dbt_unpartitioned_models
from product_analytics_tests.conftest import SIM_DAYS

CLOCK = "2026-06-01T00:00:00"


def _step_errors(result) -> str:
    return "\n".join(e.event_specific_data.error.to_string() for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)


@contextmanager
def outside_writer(database) -> Iterator[subprocess.Popen]:
    """A process outside Dagster (a notebook, a DuckDB shell) holding the file open for writing."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(300)"]
        + [str(database)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=30)


def _retries(result) -> int:
    return sum(1 for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY)


def test_an_error_that_cannot_pass_by_itself_is_not_retried(tmp_path):
    """A bad configuration fails the step at once: no retry, one failure."""
    resources = {
        "duckdb": Warehouse(database=str(tmp_path / "warehouse.duckdb"), lock_timeout_seconds=2),
        "event_source": FileSource(events_dir=str(tmp_path / "no such folder")),
    }
    result = materialize([raw_events], partition_key=SIM_DAYS[0].isoformat(), resources=resources, raise_on_error=False)
    assert not result.success
    assert "is not a folder" in _step_errors(result)
    assert _retries(result) == 0
    assert sum(1 for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE) == 1
    # the audit trail records the failed step, with its reason and day
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        query = "select asset_key, status, message like '%is not a folder%', first_day, run_id from audit.audit_runs"
        rows = conn.execute(query).fetchall()
    assert rows == [("raw/events", "error", True, SIM_DAYS[0], result.run_id)]


def test_a_writer_outside_dagster_gets_a_clear_error_and_the_file_survives(tmp_path, landing, sim_config):
    database = tmp_path / "warehouse.duckdb"
    source = SimulatorSource(
        landing_dir=str(landing / "landing"),
        truth_dir=str(landing / "truth"),
        seed=sim_config.seed,
        daily_users=sim_config.daily_users,
        start_date=sim_config.epoch.isoformat(),
        clock=CLOCK,
    )
    resources = {"duckdb": Warehouse(database=str(database), lock_timeout_seconds=2), "event_source": source}
    day = SIM_DAYS[0].isoformat()
    assert materialize([raw_events], partition_key=day, resources=resources).success
    with duckdb.connect(str(database), read_only=True) as conn:
        before = conn.execute("select count(*), sum(hash(message_id)) from raw.events").fetchall()

    with outside_writer(database) as holder:
        started = time.monotonic()
        blocked = materialize([raw_events], partition_key=day, resources=resources, raise_on_error=False)
        waited = time.monotonic() - started
    assert not blocked.success
    message = _step_errors(blocked)
    assert f"The warehouse {database} is locked by another process" in message
    assert f"PID {holder.pid}" in message  # DuckDB names the holder
    assert "PA_LOCK_TIMEOUT_SECONDS" in message
    assert _retries(blocked) == 2 and waited >= 3 * 2 + 2 * 2  # a lock may pass: three attempts, two waits
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("select count(*), sum(hash(message_id)) from raw.events").fetchall() == before
    assert materialize([raw_events], partition_key=day, resources=resources).success


def test_dbt_waits_for_an_outside_lock_only_as_long_as_the_timeout_and_says_why(tmp_path):
    """Regression: dbt-duckdb's 30 connect attempts waited 2**n s each, for hours, on a file
    held by a notebook or a BI client, and the run hung without a word."""
    database = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(database)).close()
    dbt = DbtCli(
        project_dir=dbt_project,
        dbt_executable=str(DBT_SHIM),
        warehouse_path=str(database),
        start_date="2026-03-01",
        lock_timeout_seconds=3,
    )
    with outside_writer(database) as holder:
        started = time.monotonic()
        models = AssetSelection.assets(dbt_unpartitioned_models) - AssetSelection.assets(*SNAPSHOT_JOB_KEYS)  # dbt alone opens the file
        resources = {"dbt": dbt, "duckdb": Warehouse(database=str(database), lock_timeout_seconds=3)}
        blocked = materialize([dbt_unpartitioned_models], selection=models, resources=resources, raise_on_error=False)
        waited = time.monotonic() - started
    assert not blocked.success
    message = _step_errors(blocked)
    assert "WarehouseLockedError" in message and f"The warehouse {database} is locked by another process" in message
    assert f"PID {holder.pid}" in message  # DuckDB names the holder
    assert _retries(blocked) == 2  # the step was tried three times, then failed
    assert 3 * 3 <= waited < 180  # each attempt: 2 connects (1 + 2 s of waiting) and dbt's start-up


def _run_pipeline(env: dict[str, str], first: date, last: date) -> subprocess.Popen:
    """The daily pipeline over a range, as the README's command line backfill runs it."""
    tags = json.dumps({"dagster/asset_partition_range_start": first.isoformat(), "dagster/asset_partition_range_end": last.isoformat()})
    dagster = os.path.join(sys.prefix, "bin", "dagster")
    command = [dagster, "job", "execute", "-m", "product_analytics.definitions", "-j", "daily_pipeline", "--tags", tags]
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _wait_for_step(instance: DagsterInstance, step_key: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in instance.get_runs():
            records = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_START).records
            if any(r.event_log_entry.step_key == step_key for r in records):
                return
        time.sleep(0.5)
    raise AssertionError(f"step {step_key} did not start within {timeout}s")


def killed_run_id(instance: DagsterInstance) -> str:
    (run,) = instance.get_runs()
    return run.run_id


def test_a_run_killed_mid_way_then_run_again_leaves_no_duplicates_and_nothing_missing(tmp_path):
    home = ensure_dagster_home(tmp_path / "dagster_home")
    env = {**os.environ, "PA_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(home), "PA_INGEST_CLOCK": CLOCK}
    env.pop("PA_DUCKDB_PATH", None)  # a dbt harness test may have set it in this worker: the warehouse goes under PA_DATA_DIR
    env["PATH"] = os.path.join(sys.prefix, "bin") + os.pathsep + env.get("PATH", "")
    first, last = date(2026, 3, 12), date(2026, 3, 13)

    # The instance's storage is created here, before any run: a run process and this one
    # creating it at once can both write its schema version (seen once in CI).
    instance = DagsterInstance.from_config(str(home))
    killed = _run_pipeline(env, first, last)
    try:
        _wait_for_step(instance, "dbt_daily_models", timeout=300)
        time.sleep(4)  # dbt is writing the day's models
        assert killed.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(killed.pid, signal.SIGKILL)  # the run process and its dbt subprocess, as a crash would
        killed.wait(timeout=30)

    # The killed run holds the writer slot. The daemon's sensor finds its process gone,
    # fails the run and frees the slot, before any other run starts.
    assert instance.event_log_storage.get_concurrency_run_ids() == {killed_run_id(instance)}
    dead_run_reaper(build_sensor_context(instance=instance))
    assert instance.event_log_storage.get_concurrency_run_ids() == set()
    assert [run.status.value for run in instance.get_runs()] == ["FAILURE"]

    again = _run_pipeline(env, first, last)
    assert again.wait(timeout=900) == 0
    statuses = [run.status.value for run in reversed(instance.get_runs())]
    assert statuses == ["FAILURE", "SUCCESS"]

    database = tmp_path / "data" / "warehouse.duckdb"
    landing = tmp_path / "data" / "landing" / "simulator"
    with duckdb.connect(str(database), read_only=True) as conn:
        for day in (first, last):
            start = datetime.combine(day, datetime.min.time())
            expected = conn.execute(
                "select count(distinct message_id) from read_parquet(?) where timestamp >= ? and timestamp < ? and received_at <= ?",
                [str(events_file(landing, day)), start, start + timedelta(days=1), datetime.fromisoformat(CLOCK)],
            ).fetchall()[0][0]
            loaded = conn.execute("select count(*), count(distinct message_id) from raw.events where event_date = ?", [day]).fetchall()[0]
            assert loaded == (expected, expected) and expected > 1000
        events = conn.execute("select count(*), count(distinct event_id) from marts.fct_events").fetchall()[0]
        staged = conn.execute("select count(*) from staging.stg_app__events").fetchall()[0][0]
        sessions = conn.execute("select count(*), count(distinct session_id) from marts.fct_sessions").fetchall()[0]
        in_sessions = conn.execute("select sum(event_count) from marts.fct_sessions").fetchall()[0][0]
    assert events[0] == events[1] == staged == in_sessions
    assert sessions[0] == sessions[1] > 100


@op
def _nothing():
    pass


@job
def _one_step():
    _nothing()


def _started_run(instance: DagsterInstance, pid: int) -> str:
    run = instance.create_run_for_job(job_def=_one_step)
    instance.report_dagster_event(DagsterEvent(DagsterEventType.RUN_START.value, job_name=run.job_name, pid=pid), run_id=run.run_id)
    return run.run_id


def test_a_run_killed_between_steps_holds_no_slot_and_is_failed_all_the_same():
    """Regression: only runs holding a writer slot were looked at, so a run killed between
    two steps stayed STARTED for ever, and so did its backfill."""
    instance = DagsterInstance.ephemeral()
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True).stdout)
    dead, alive = _started_run(instance, gone), _started_run(instance, os.getpid())
    assert instance.event_log_storage.get_concurrency_run_ids() == set()
    dead_run_reaper(build_sensor_context(instance=instance))
    assert instance.get_run_by_id(dead).status == DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(alive).status == DagsterRunStatus.STARTED
