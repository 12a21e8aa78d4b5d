"""`make demo`: simulate recent days (or read the user's files) and materialize every asset through Dagster.

The work runs as a backfill in the persistent instance in ``DAGSTER_HOME`` (created if
missing): the demo starts `dagster dev`, launches the backfill through its GraphQL API
as the UI's *Materialize → backfill* does, waits for it and stops the server. `make ui`
afterwards shows the backfill, its run, the materializations and the checks.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import warnings
from datetime import UTC, date, datetime, timedelta

from product_analytics.config import record_start_date, settings, start_date_chosen
from product_analytics.instance import ensure_dagster_home

DEMO_DAYS = 7


def demo_window(today: date, start: date, days: int = DEMO_DAYS) -> tuple[date, date]:
    """The last ``days`` complete UTC days before ``today``, not before the partitions start."""
    last = today - timedelta(days=1)
    if last < start:
        raise SystemExit(f"PA_START_DATE={start} is after yesterday ({last}): nothing to process")
    return max(start, last - timedelta(days=days - 1)), last


def simulate(first: date, last: date) -> None:
    from product_analytics.ingestion.sources import event_source
    from product_analytics.simulator import LandingWriter

    s = settings()
    writer = LandingWriter(event_source().simulation(), s.landing_dir, s.truth_dir)
    day = first
    while day <= last:
        print(f"      {day}: {writer.write_day(day):,} messages", flush=True)
        day += timedelta(days=1)


def file_window(today: date, start: date) -> tuple[date, date]:
    """The event days the user's files hold (per the manifest), within the partitions."""
    from product_analytics.ingestion.schema import ensure_raw_schema
    from product_analytics.ingestion.sources import event_source
    from product_analytics.resources.warehouse import warehouse

    s = settings()
    s.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with warehouse().get_connection() as conn:
        ensure_raw_schema(conn)
        scan = event_source().prepare(conn)
        # The days of readable files: an unreadable file's one quarantine row sits on the day
        # it was written (today, often), which must not stretch the window to yesterday.
        first, last = conn.execute(
            """select min(event_date), max(event_date) from raw._file_days
               where rows > 0 and path in (select path from raw._files where read_error is null)"""
        ).fetchall()[0]
        unreadable = conn.execute("select path, home_date from raw._files where read_error is not null order by 1").fetchall()
    print(f"      {scan['files']} files ({scan['files_new']} new, {scan['files_changed']} changed), {scan['rows_scanned']:,} rows read")
    for path, day in unreadable:
        print(f"      unreadable: {path} (one quarantine row on {day}, the day it was written)")
    if first is None:
        raise SystemExit(f"no event files found under {s.events_dir} (JSONL, JSONL.gz, Parquet or CSV)")
    window = max(first, start), min(last, today - timedelta(days=1))
    if window[0] > window[1]:
        raise SystemExit(f"the files hold event days {first} .. {last}, outside PA_START_DATE={start} .. yesterday")
    return window


def check_evaluations(instance, run_id: str) -> list:
    """The asset check evaluations a run recorded."""
    from dagster import DagsterEventType

    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=100000).records
    return [r.event_log_entry.dagster_event.event_specific_data for r in records]


def checks_line(checks: list) -> str:
    """``checks: 140 of 142 passed; warned: ...; failed: ...`` (a WARN check warns, it does not fail)."""
    from dagster import AssetCheckSeverity

    def named(severity) -> str:
        return ", ".join(f"{c.asset_key.to_user_string()}:{c.check_name}" for c in checks if not c.passed and c.severity == severity)

    passed = sum(c.passed for c in checks)
    warned, failed = named(AssetCheckSeverity.WARN), named(AssetCheckSeverity.ERROR)
    line = f"checks: {passed} of {len(checks)} passed"
    return line + (f"; warned: {warned}" if warned else "") + (f"; failed: {failed}" if failed else "")


def _step(number: int, text: str) -> float:
    print(f"[{number}/4] {text}", flush=True)
    return time.monotonic()


def _run_events() -> dict:
    from dagster import DagsterEventType

    return {
        DagsterEventType.RUN_ENQUEUED: "queued",
        DagsterEventType.RUN_START: "started",
        DagsterEventType.RUN_SUCCESS: "succeeded (the backfill daemon marks the backfill done at its next pass, within 30 s)",
        DagsterEventType.RUN_FAILURE: "failed",
    }


def progress_line(entry) -> str | None:
    """What an event of a run tells the demo's reader: a step starting or failing, or a dbt
    model finished (the dbt steps log ``dbt 12/35 int_sessions``)."""
    from dagster import DagsterEventType

    from product_analytics.transform.assets import PROGRESS_PREFIX

    event, run_events = entry.dagster_event, _run_events()
    if event is not None and event.event_type in run_events:
        return f"run {entry.run_id[:8]} {run_events[event.event_type]}"
    if event is not None and event.event_type == DagsterEventType.STEP_START:
        return f"{entry.step_key}"
    if event is not None and event.event_type == DagsterEventType.STEP_FAILURE:
        return f"{entry.step_key} failed"
    if event is None and entry.step_key and entry.user_message.startswith(PROGRESS_PREFIX):
        return f"{entry.step_key}: {entry.user_message}"
    return None


@contextlib.contextmanager
def _progress(instance, backfill_id: str, started: float, every: float = 1.0, quiet_for: float = 15.0):
    """Print what the backfill's runs do while they do it: each step as it starts and each
    dbt model as it finishes; the elapsed time when nothing new happened for a while."""
    from dagster import RunsFilter

    stop = threading.Event()
    out = sys.stdout
    cursors: dict[str, str | None] = {}

    def poll() -> None:
        last_line = time.monotonic()
        while not stop.wait(every):
            try:
                runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
                for run in reversed(runs):  # oldest first
                    connection = instance.get_records_for_run(run.run_id, cursor=cursors.get(run.run_id))
                    cursors[run.run_id] = connection.cursor
                    for record in connection.records:
                        line = progress_line(record.event_log_entry)
                        if line:
                            out.write(f"      {time.monotonic() - started:>5.0f}s  {line}\n")
                            last_line = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - progress is only shown: the wait goes on
                out.write(f"      (progress not read this time: {exc})\n")
            if time.monotonic() - last_line >= quiet_for:
                waiting = "" if cursors else " (the backfill daemon creates the run at its next pass, within 30 s)"
                out.write(f"      {time.monotonic() - started:>5.0f}s  ...{waiting}\n")
                last_line = time.monotonic()
            out.flush()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


FRESHNESS_STATUS = """
{ assetNodes { assetKey { path } freshnessStatusInfo { freshnessStatus } } }
"""
FRESHNESS_INTERVAL_SECONDS = 5  # the demo's daemon evaluates freshness policies this often (Dagster: 30)


def evaluate_freshness(ui, instance, timeout: float = 60.0) -> str:
    """Freshness as the UI shows it once the data is in: the ``freshness_checks`` job (the
    latest partitions exist), then the daemon's next evaluation of the freshness policies."""
    run_id = ui.launch_run("freshness_checks")
    ui.wait_for_run(run_id, timeout=600)
    latest = check_evaluations(instance, run_id)
    missing = [c.asset_key.to_user_string() for c in latest if not c.passed]
    deadline = time.monotonic() + timeout
    while True:
        nodes = ui.graphql(FRESHNESS_STATUS)["assetNodes"]
        statuses = {"/".join(n["assetKey"]["path"]): n["freshnessStatusInfo"]["freshnessStatus"] for n in nodes if n["freshnessStatusInfo"]}
        if all(status == "HEALTHY" for status in statuses.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    stale = sorted(f"{key} {status.lower()}" for key, status in statuses.items() if status != "HEALTHY")
    return (
        f"latest partition loaded on {len(latest) - len(missing)} of {len(latest)} assets"
        + (f" (missing on {', '.join(missing)})" if missing else "")
        + f"; {len(statuses) - len(stale)} of {len(statuses)} freshness policies pass"
        + (f" (not: {', '.join(stale)})" if stale else "")
    )


def _done(started: float, detail: str = "") -> None:
    print(f"      done in {time.monotonic() - started:.1f}s {detail}".rstrip(), flush=True)


PUBLIC_SCHEMAS = ("marts", "snapshots")


def summary(conn) -> list[tuple[str, int]]:
    """Row counts of every table and view in the warehouse."""
    names = conn.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema not in ('information_schema', 'pg_catalog') order by 1"
    ).fetchall()
    return [(name, conn.execute(f"select count(*) from {name}").fetchone()[0]) for (name,) in names]


def quarantine_counts(conn) -> list[tuple[str, int]]:
    return conn.execute("select reason, count(*) from raw.quarantine group by 1 order by 2 desc, 1").fetchall()


def retention_figures(conn, days: tuple[int, ...] = (1, 3, 7)) -> list[tuple[int, float]]:
    rows = conn.execute(
        """select period_number, avg(retention_rate) from marts.retention_cohorts
           where grain = 'day' and period_number in (select unnest(?)) and retention_rate is not null
           group by 1 order by 1""",
        [list(days)],
    ).fetchall()
    return [(n, rate) for n, rate in rows]


def print_results() -> None:
    """The public tables' row counts first, then every other relation's, the quarantine and
    the retention of the daily cohorts: the warehouse as a run left it."""
    from product_analytics.resources.warehouse import warehouse

    with warehouse().get_connection() as conn:  # Dagster has stopped: nothing else holds the file
        tables, quarantined, retention = summary(conn), quarantine_counts(conn), retention_figures(conn)
    public = [(name, rows) for name, rows in tables if name.split(".")[0] in PUBLIC_SCHEMAS]
    print("      public tables (marts and snapshots; the readers' copy holds them):")
    for name, rows in public:
        print(f"        {name:<40} {rows:>12,}")
    print("      the rest (raw, staging, intermediate):")
    for name, rows in tables:
        if (name, rows) not in public:
            print(f"        {name:<40} {rows:>12,}")
    if quarantined:
        print("      quarantined rows (raw.quarantine): " + ", ".join(f"{reason} {n:,}" for reason, n in quarantined))
    print("      retention of the daily cohorts (mean over finished cohorts):")
    for n, rate in retention:
        print(f"        day {n:>2}: {rate:.1%}")


def main() -> None:
    s = settings()
    home = ensure_dagster_home(s.dagster_home)
    os.environ["DAGSTER_HOME"] = str(home)

    from dagster import BetaWarning, DagsterInstance

    warnings.filterwarnings("ignore", category=BetaWarning)

    from product_analytics.ui import DagsterUI

    today = datetime.now(UTC).date()
    if s.source == "simulator" and not start_date_chosen(s.data_dir) and not s.duckdb_path.exists():
        # A new warehouse without PA_START_DATE: its partitions start on the first simulated
        # day (no "missing" days before it in the UI), for every later process too.
        record_start_date(s.data_dir, demo_window(today, date.min)[0])
        s = settings()
    if s.source == "files":
        started = _step(1, f"Reading the files under {s.events_dir}")
        first, last = file_window(today, s.start_date)
    else:
        first, last = demo_window(today, s.start_date)
        started = _step(1, f"Simulating {(last - first).days + 1} days ({s.sim_daily_users} daily users, seed {s.sim_seed})")
        simulate(first, last)
    _done(started, f"(event days {first} .. {last} UTC, warehouse {s.duckdb_path})")

    started = _step(2, "Starting Dagster (webserver and daemon) on the instance, as `make ui` does")
    log_file = s.data_dir / "logs" / "demo_dagster.log"
    partitions = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    env = {**os.environ, "FRESHNESS_DAEMON_INTERVAL_SECONDS": str(FRESHNESS_INTERVAL_SECONDS)}
    with DagsterUI(home, log_file, env=env) as ui:
        _done(started, f"({ui.url}, output in {log_file})")
        started = _step(3, f"Backfilling daily_pipeline over {len(partitions)} days: one run for the range, launched as the UI does")
        backfill_id = ui.launch_job_backfill("daily_pipeline", partitions, title=f"make demo {first} .. {last}")
        with _progress(DagsterInstance.get(), backfill_id, started):
            backfill = ui.wait_for_backfill(backfill_id, timeout=3600)
        runs = backfill["runs"]
        _done(started, f"(backfill {backfill_id}: {backfill['status']}, runs {', '.join(r['runId'] + ' ' + r['status'] for r in runs)})")
        succeeded = backfill["status"] == "COMPLETED_SUCCESS" and runs and all(r["status"] == "SUCCESS" for r in runs)
        freshness = evaluate_freshness(ui, DagsterInstance.get()) if succeeded else "not evaluated: the backfill failed"

    instance = DagsterInstance.get()
    checks = [c for r in runs for c in check_evaluations(instance, r["runId"])]
    print(f"      {checks_line(checks)}")
    print(f"      freshness, evaluated after the backfill: {freshness}")

    _step(4, "Summary")
    print_results()
    run_id = runs[-1]["runId"] if runs else None
    print(f"\nOpen the UI with `make ui` (Dagster home {home}), then http://127.0.0.1:3000/runs/{run_id}")
    print(f"  the run holding the results: {run_id} (backfill {backfill_id}: Runs → Backfills)")
    print(f"  query the marts read-only, without holding up runs: duckdb.connect('{s.reader_copy_path}', read_only=True)")
    if not succeeded:
        raise SystemExit(f"the backfill did not succeed: see the run in the UI, and {log_file}")


if __name__ == "__main__":
    sys.exit(main())
