"""Giving back the writer slot of a run whose process died.

A run claims a slot of the pool ``duckdb_writer`` for each writing step and gives it
back when the step ends. A run killed mid-way (``kill -9``, a crashed machine, Dagster
stopped under it) never gives it back, and every later writer would wait for ever. So
the started runs and the runs holding slots are looked at, by the sensor ``dead_run_reaper`` every 30 s
while the daemon runs, and by each run before its first step: one whose process no
longer exists is marked failed (Dagster's run retries then retry it) and its slots are
freed. Processes are looked up on this machine: the
project runs Dagster and DuckDB on one host (an embedded warehouse).
"""

from __future__ import annotations

import os

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def run_process_id(instance: DagsterInstance, run_id: str) -> int | None:
    """The process that executed the run (the one that logged its start)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START, limit=1).records
    event = records[0].event_log_entry.dagster_event if records else None
    return event.pid if event else None


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def free_slots_of_dead_runs(instance: DagsterInstance, current_run_id: str | None = None) -> list[str]:
    """Fail the started runs whose process is gone, and free the slots of those and of any
    finished run that still holds some. A run killed between two steps holds no slot, but
    left STARTED it would keep its backfill open for ever."""
    storage = instance.event_log_storage
    holders = set(storage.get_concurrency_run_ids())
    started = {run.run_id: run for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]))}
    freed = []
    for run_id in sorted(holders | set(started)):
        if run_id == current_run_id:
            continue
        run = started.get(run_id) or instance.get_run_by_id(run_id)
        if run is not None and run.status not in FINISHED:
            pid = run_process_id(instance, run_id)
            if pid is None or process_exists(pid):
                continue
            instance.report_run_failed(run, f"The process of this run ({pid}) is gone; its DuckDB writer slots were freed.")
        if run_id in holders:
            storage.free_concurrency_slots_for_run(run_id)
        freed.append(run_id)
    return freed
