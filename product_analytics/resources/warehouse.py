"""The DuckDB warehouse resource: waits for a lock held outside Dagster, then fails clearly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster import InitResourceContext
from dagster_duckdb import DuckDBResource

from product_analytics.config import settings
from product_analytics.policies.pools import DUCKDB_WRITER_POOL
from product_analytics.resources.recovery import free_slots_of_dead_runs


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB file."""


def locked_message(database: str, waited_seconds: float, duckdb_says: str) -> str:
    """What a writer that could not get the warehouse says, from Python or from dbt."""
    return (
        f"The warehouse {database} is locked by another process, still after "
        f"{waited_seconds:.0f}s (PA_LOCK_TIMEOUT_SECONDS). DuckDB allows one writing "
        "process per file; within Dagster writers take turns in the pool "
        f"'{DUCKDB_WRITER_POOL}', so the holder is outside Dagster (a DuckDB shell, a notebook, "
        f"a second `make demo`): close it and re-run. DuckDB says: {duckdb_says}"
    )


def is_lock_error(text: str) -> bool:
    """DuckDB's error when another process holds the file."""
    return "Could not set lock on file" in text or "Conflicting lock is held" in text


class Warehouse(DuckDBResource):
    """The DuckDB warehouse: waits up to ``lock_timeout_seconds`` for another process's
    lock on the file, then fails with an error that says what to do."""

    lock_timeout_seconds: float = 60.0

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Before the run's first step: give back the writer slots of runs that were killed."""
        if context.instance is None:
            return
        run_id = context.run.run_id if context.run else None
        for freed in free_slots_of_dead_runs(context.instance, run_id):
            context.log.warning(f"run {freed} held a DuckDB writer slot but its process is gone: marked failed, slot freed")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + self.lock_timeout_seconds
        delay = 0.25
        while True:
            try:
                conn = duckdb.connect(self.database, read_only=False, config={"custom_user_agent": "dagster", **self.connection_config})
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseLockedError(locked_message(self.database, self.lock_timeout_seconds, str(exc))) from exc
                time.sleep(min(delay, max(deadline - time.monotonic(), 0.01)))
                delay = min(delay * 2, 5.0)
        try:
            yield conn
        finally:
            conn.close()


def warehouse() -> Warehouse:
    s = settings()
    return Warehouse(database=str(s.duckdb_path), lock_timeout_seconds=s.lock_timeout_seconds)
