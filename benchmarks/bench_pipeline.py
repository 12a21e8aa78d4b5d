"""End-to-end pipeline figures: the daily run as a user launches it, timed from outside.

    python benchmarks/bench_pipeline.py fixed-cost
    python benchmarks/bench_pipeline.py day 42000
    python benchmarks/bench_pipeline.py sessions 42000
    python benchmarks/bench_pipeline.py backfill-run 100 45
    python benchmarks/bench_pipeline.py long-backfill 178 200

Every run is `dagster job execute -j daily_pipeline` with the range tags of the days, in a
fresh data folder and Dagster home (the simulator, default settings otherwise), under a
small launcher that reports the peak RSS of the process tree. Prints figures, never
pass/fail; `benchmarks/run.py` collects them into the benchmark table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from product_analytics.config import DBT_PROJECT_DIR
from product_analytics.instance import ensure_dagster_home
from product_analytics.policies.partitions import range_tags

VENV_BIN = Path(sys.executable).parent
START = date(2026, 3, 1)
# Runs the command, then prints the peak RSS (kB) of it and everything it waited for.
LAUNCHER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


@dataclass
class RunFigures:
    seconds: float  # launch to exit
    peak_rss_mb: float
    run_id: str
    steps: dict[str, float] = field(default_factory=dict)  # step key -> seconds
    dbt_elapsed_s: float = 0.0  # dbt's own `elapsed` over the run's invocations
    dbt_invocations: int = 0


class Pipeline:
    """A data folder, a warehouse and a Dagster home of their own."""

    def __init__(self, daily_users: int, root: Path | None = None):
        self.root = root or Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
        self.home = ensure_dagster_home(self.root / "dagster_home")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PA_")},
            "PA_DATA_DIR": str(self.root / "data"),
            "PA_START_DATE": START.isoformat(),
            "PA_SIM_DAILY_USERS": str(daily_users),
            "PA_INGEST_CLOCK": "2027-01-01T00:00:00",  # every simulated message has arrived
            "DAGSTER_HOME": str(self.home),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONWARNINGS": "ignore",
        }

    @property
    def warehouse(self) -> Path:
        return self.root / "data" / "warehouse.duckdb"

    def simulate(self, first: date, last: date) -> int:
        """Write the simulator's files up front, so that runs time the pipeline only."""
        from product_analytics.simulator import LandingWriter, SimulationConfig

        config = SimulationConfig(seed=42, epoch=START, daily_users=int(self.env["PA_SIM_DAILY_USERS"]))
        writer = LandingWriter(config, self.root / "data" / "landing" / "simulator", self.root / "data" / "simulator_truth")
        return sum(writer.write_day(first + timedelta(days=i)) for i in range((last - first).days + 1))

    def run(self, first: date, last: date) -> RunFigures:
        started_wall = time.time()
        command = [
            str(VENV_BIN / "dagster"),
            "job",
            "execute",
            "-m",
            "product_analytics.definitions",
            "-j",
            "daily_pipeline",
            "--tags",
            json.dumps(range_tags(first, last)),
        ]
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", LAUNCHER, *command], env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"the run of {first} .. {last} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        peak_kb = int(done.stderr.strip().splitlines()[-1])
        figures = RunFigures(seconds, peak_kb / 1024, "")
        self._read_run(figures)
        self._read_dbt(figures, started_wall)
        return figures

    def _read_run(self, figures: RunFigures) -> None:
        """Step durations from the instance's event log (the newest run)."""
        script = """
import json
from dagster import DagsterEventType, DagsterInstance
instance = DagsterInstance.get()
run = instance.get_runs(limit=1)[0]
times = {}
for kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
    for record in instance.get_records_for_run(run.run_id, of_type=kind, limit=10000).records:
        entry = record.event_log_entry
        times.setdefault(entry.step_key, []).append(entry.timestamp)
print(json.dumps({"run_id": run.run_id, "steps": {k: max(v) - min(v) for k, v in times.items()}}))
"""
        out = subprocess.run([sys.executable, "-c", script], env=self.env, capture_output=True, text=True, check=True).stdout
        data = json.loads(out.strip().splitlines()[-1])
        figures.run_id, figures.steps = data["run_id"], data["steps"]

    def _read_dbt(self, figures: RunFigures, since: float) -> None:
        """dbt's own elapsed time over the run's invocations (their run_results.json)."""
        for path in (DBT_PROJECT_DIR / "target").glob("*/run_results.json"):
            if path.stat().st_mtime >= since:
                figures.dbt_elapsed_s += json.loads(path.read_text())["elapsed_time"]
                figures.dbt_invocations += 1


def timed(command: list[str], env: dict | None = None, repeats: int = 3) -> float:
    """The best of ``repeats`` wall times of a command."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


def fixed_cost() -> dict:
    """A daily run of a day of a few hundred events on a warehouse that already holds the
    day before (the run of the day before warms it up), with its breakdown."""
    pipeline = Pipeline(daily_users=20)
    day = START + timedelta(days=9)
    messages = pipeline.simulate(day - timedelta(days=1), day)
    pipeline.run(day - timedelta(days=1), day - timedelta(days=1))
    run = pipeline.run(day, day)
    python = [sys.executable, "-c", "pass"]
    process = timed(python, pipeline.env)
    load = timed([sys.executable, "-c", "import product_analytics.definitions"], pipeline.env) - process
    dbt_steps = sum(s for k, s in run.steps.items() if k.startswith("dbt_"))
    python_steps = sum(s for k, s in run.steps.items() if not k.startswith("dbt_"))
    return {
        "fixed_cost_s": round(run.seconds, 2),
        "fixed_cost_messages": messages // 2,
        "fixed_cost_peak_rss_mb": round(run.peak_rss_mb),
        "fixed_cost_process_start_s": round(process, 2),
        "fixed_cost_code_location_load_s": round(load, 2),
        "fixed_cost_dbt_startup_and_events_s": round(dbt_steps - run.dbt_elapsed_s, 2),
        "fixed_cost_dbt_work_s": round(run.dbt_elapsed_s, 2),
        "fixed_cost_python_assets_s": round(python_steps, 2),
        "fixed_cost_dagster_bookkeeping_s": round(run.seconds - process - load - dbt_steps - python_steps, 2),
        "fixed_cost_dbt_invocations": run.dbt_invocations,
    }


def event_day(daily_users: int) -> dict:
    """The daily run of one large day (after a warm-up run of the tiny day before it)."""
    pipeline = Pipeline(daily_users=daily_users)
    day = START + timedelta(days=9)
    pipeline.simulate(day, day)
    with duckdb.connect() as conn:
        messages = conn.execute(
            "select count(*) from read_parquet(?)", [str(next((pipeline.root / "data" / "landing").rglob("*events*.parquet")))]
        ).fetchall()[0][0]
    run = pipeline.run(day, day)
    return {"event_day_messages": messages, "event_day_s": round(run.seconds, 2), "event_day_peak_rss_mb": round(run.peak_rss_mb)}


def history_ratio(daily_users: int, short: int, long: int) -> dict:
    """The run of the day after ``long`` days of history over the same after ``short`` days."""
    seconds = {}
    for days in (short, long):
        pipeline = Pipeline(daily_users=daily_users)
        last = START + timedelta(days=days)
        pipeline.simulate(START, last)
        pipeline.run(START, last - timedelta(days=1))
        seconds[days] = pipeline.run(last, last).seconds
    return {
        "history_short_days": short,
        "history_long_days": long,
        "history_short_run_s": round(seconds[short], 2),
        "history_long_run_s": round(seconds[long], 2),
        "history_ratio": round(seconds[long] / seconds[short], 3),
    }


def backfill_speedup(daily_users: int, days: int) -> dict:
    """``days`` one-day runs against one run of the same days (single-run backfill)."""
    last = START + timedelta(days=days - 1)
    one_by_one = Pipeline(daily_users=daily_users)
    one_by_one.simulate(START, last)
    separate = sum(one_by_one.run(START + timedelta(days=i), START + timedelta(days=i)).seconds for i in range(days))
    together = Pipeline(daily_users=daily_users)
    together.simulate(START, last)
    single = together.run(START, last).seconds
    return {
        "backfill_days": days,
        "backfill_one_day_runs_s": round(separate, 2),
        "backfill_single_run_s": round(single, 2),
        "backfill_speedup": round(separate / single, 2),
    }


def single_backfill(daily_users: int, days: int) -> dict:
    """One run over ``days`` days (a single-run backfill), with the time of the step that
    builds the snapshots (observing every day's image in turn) and the unpartitioned models."""
    last = START + timedelta(days=days - 1)
    pipeline = Pipeline(daily_users=daily_users)
    pipeline.simulate(START, last)
    run = pipeline.run(START, last)
    return {
        "single_backfill_days": days,
        "single_backfill_s": round(run.seconds, 2),
        "single_backfill_unpartitioned_s": round(run.steps.get("dbt_unpartitioned_models", 0.0), 2),
        "single_backfill_dbt_invocations": run.dbt_invocations,
    }


def long_backfill(days: int, events_per_day: int) -> dict:
    """A backfill of ``days`` days of a small file source launched through the UI's API, as
    a user launches one on a running `dagster dev`: the time from the launch until the
    backfill's run exists (``run_creation_s``) and until the backfill has finished
    (``long_backfill_s``). Starting `dagster dev` is not counted."""
    from product_analytics.ui import BACKFILL_STATUS, DagsterUI

    root = Path(tempfile.mkdtemp(prefix="bench_long_backfill_"))
    first = date.today() - timedelta(days=days + 1)
    events = root / "events"
    events.mkdir()
    for i in range(days):
        day = first + timedelta(days=i)
        lines = []
        for n in range(events_per_day):
            at = datetime.combine(day, datetime.min.time()) + timedelta(hours=8, minutes=3 * n % 600, seconds=n)
            message = {
                "messageId": f"{day}-{n}",
                "type": "track",
                "event": ("app_opened", "post_viewed", "game_started")[n % 3],
                "anonymousId": f"device-{n % 25}",
                "timestamp": at.isoformat() + "Z",
                "receivedAt": (at + timedelta(seconds=2)).isoformat() + "Z",
            }
            lines.append(json.dumps(message))
        (events / f"{day}.jsonl").write_text("\n".join(lines) + "\n")
    home = ensure_dagster_home(root / "dagster_home")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PA_")},
        "PA_DATA_DIR": str(root / "data"),
        "PA_SOURCE": "files",
        "PA_EVENTS_DIR": str(events),
        "PA_START_DATE": first.isoformat(),
        "PYTHONWARNINGS": "ignore",
    }
    partitions = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    with DagsterUI(home, root / "dagster_dev.log", env=env) as ui:
        started = time.monotonic()
        backfill_id = ui.launch_job_backfill("daily_pipeline", partitions, title=f"benchmark: {days} days")
        created = None
        while created is None:
            backfill = ui.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            if backfill.get("runs"):
                created = time.monotonic() - started
            elif time.monotonic() - started > 1800:
                raise RuntimeError(f"no run after 30 minutes: see {root / 'dagster_dev.log'}")
            else:
                time.sleep(0.5)
        done = ui.wait_for_backfill(backfill_id, timeout=3600)
        finished = time.monotonic() - started
    if done["status"] != "COMPLETED_SUCCESS":
        raise RuntimeError(f"the backfill ended {done['status']}: see {root / 'dagster_dev.log'}")
    return {
        "long_backfill_days": days,
        "long_backfill_events": days * events_per_day,
        "run_creation_s": round(created, 2),
        "long_backfill_s": round(finished, 2),
    }


# The session rule of docs/sessions.md, written once by hand over raw.events: per device,
# a gap over 30 minutes starts a session, and a run of activity is cut every 24 hours.
HAND_SESSIONS = """
with events as (
    select anonymous_id, "timestamp" as event_at, message_id from raw.events where type in ('track', 'page', 'screen')
),
gaps as (
    select *, case when lag(event_at) over w is null
                   or date_diff('microsecond', lag(event_at) over w, event_at) > 1800000000 then 1 else 0 end as is_run_start
    from events window w as (partition by anonymous_id order by event_at, message_id)
),
runs as (
    select *, sum(is_run_start) over (partition by anonymous_id order by event_at, message_id) as run_number from gaps
),
cut as (
    select anonymous_id, run_number,
           floor(date_diff('microsecond', min(event_at) over (partition by anonymous_id, run_number), event_at) / 86400000000) as part
    from runs
)
select count(*) from (select distinct anonymous_id, run_number, part from cut)
"""


def sessions_ratio(daily_users: int) -> dict:
    """The dbt sessions path (staging, sessionized events, sessions: the models' time as a daily
    run builds them, three daily batches) against one hand-written query over the same events."""
    pipeline = Pipeline(daily_users=daily_users)
    day = START + timedelta(days=9)
    pipeline.simulate(day, day)
    pipeline.run(day, day)
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as conn:
        expected = conn.execute("select count(*) from intermediate.int_sessions_aggregated").fetchall()[0][0]
    env = {**pipeline.env, "PA_DUCKDB_PATH": str(pipeline.warehouse)}
    window = [
        "--event-time-start",
        f"{day - timedelta(days=1)}T00:00:00",
        "--event-time-end",
        f"{day + timedelta(days=2)}T00:00:00",
        "--vars",
        json.dumps({"start_date": START.isoformat()}),
    ]
    selection = ["--select", "stg_app__events int_events_sessionized int_sessions_aggregated"]
    dbt = [str(VENV_BIN / "dbt"), "run", *selection, *window, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    dbt += ["--target-path", str(pipeline.root / "dbt_target")]
    started = time.perf_counter()
    subprocess.run(dbt, env=env, check=True, capture_output=True)
    process_seconds = time.perf_counter() - started
    # The sessions path is the models' own time; dbt's start-up is part of the fixed cost.
    results = json.loads((pipeline.root / "dbt_target" / "run_results.json").read_text())["results"]
    dbt_seconds = sum(r["execution_time"] for r in results)
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as conn:
        started = time.perf_counter()
        hand = conn.execute(HAND_SESSIONS).fetchall()[0][0]
        hand_seconds = time.perf_counter() - started
        messages = conn.execute("select count(*) from raw.events").fetchall()[0][0]
    if hand != expected:
        raise RuntimeError(f"the hand-written query finds {hand} sessions, the models {expected}")
    return {
        "sessions_messages": messages,
        "sessions_count": expected,
        "sessions_dbt_process_s": round(process_seconds, 2),
        "sessions_dbt_models_s": round(dbt_seconds, 2),
        "sessions_hand_query_s": round(hand_seconds, 3),
        "sessions_ratio": round(dbt_seconds / hand_seconds, 1),
    }


def main(argv: list[str]) -> None:
    figure, *args = [a for a in argv if a != "--json"] or ["fixed-cost"]
    measure = {
        "fixed-cost": fixed_cost,
        "day": event_day,
        "sessions": sessions_ratio,
        "history": history_ratio,
        "backfill": backfill_speedup,
        "backfill-run": single_backfill,
        "long-backfill": long_backfill,
    }
    started = datetime.now()
    result = measure[figure](*(int(a) for a in args))
    print(f"{figure}: {(datetime.now() - started).total_seconds():.0f} s in all")
    print(json.dumps(result))  # the figures for benchmarks/run.py, on the last line


if __name__ == "__main__":
    main(sys.argv[1:])
