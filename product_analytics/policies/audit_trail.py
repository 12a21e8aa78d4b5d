"""The audit trail: ``audit.audit_runs``, one row per run, step and asset (a dbt node, a raw
table, retention, the readers' copy), written by the step itself when it ends, failed or not.

A row says what the step did to the asset: the days of the run, the rows loaded and
quarantined (ingestion), the outcome (dbt's node status, or the Python step's), the rows the
step wrote and the table's rows after it, the time, and the asset checks passed, failed and
warned. It is built from the step's Dagster events (materializations and their
``dagster/row_count``, check results) and, for a dbt step, from dbt's ``run_results.json``
(each node's status, message and time, the nodes skipped after a failure included). Which
rows count as written is in docs/operations.md ("The audit trail").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    Output,
)

from product_analytics.policies.partitions import RANGE_END_TAG, RANGE_START_TAG

AUDIT_SCHEMA = "audit"
AUDIT_TABLE = f"{AUDIT_SCHEMA}.audit_runs"
ROWS_LOADED = "rows_loaded"  # metadata of an ingestion asset: rows loaded into raw
ROWS_QUARANTINED = "quarantined_rows"  # and rows sent to raw.quarantine
ROW_COUNT = "dagster/row_count"


@dataclass
class Outcome:
    """What one step did to one asset (a row of the audit table, without the run's columns)."""

    asset_key: str
    status: str = "success"
    dbt_node: str | None = None
    message: str | None = None
    rows_loaded: int | None = None
    rows_quarantined: int | None = None
    rows_written: int | None = None
    row_count: int | None = None
    seconds: float | None = None
    checks_passed: int = 0
    checks_failed: int = 0
    checks_warned: int = 0


# Column: (type, description). The run's columns first, then an Outcome's.
COLUMNS: dict[str, tuple[str, str]] = {
    "run_id": ("varchar", "The Dagster run."),
    "job_name": ("varchar", "The run's job (`__ASSET_JOB` for a launch of selected assets)."),
    "step": ("varchar", "The step (op) that wrote the row: raw_events, dbt_daily_models, ..."),
    "first_day": ("date", "The first day of the run's partitions; null for a run without partitions."),
    "last_day": ("date", "The last day of the run's partitions; null for a run without partitions."),
    "asset_key": ("varchar", "The asset, as the UI spells it (marts/fct_sessions)."),
    "status": (
        "varchar",
        "success or error; a dbt node's own status from run_results.json (success, error, skipped after an upstream error).",
    ),
    "dbt_node": ("varchar", "dbt's unique_id of the node; null for a Python asset."),
    "message": ("varchar", "dbt's message for the node, or the step's error."),
    "rows_loaded": ("bigint", "Ingestion: rows of the run's days loaded into raw; null elsewhere."),
    "rows_quarantined": ("bigint", "Ingestion: rows of the run's days sent to raw.quarantine; null elsewhere."),
    "rows_written": (
        "bigint",
        "Rows the step wrote: a daily model's rows of the run's days, a rebuilt table's rows, a view 0; "
        "null where dbt-duckdb does not say (models kept by key, snapshots).",
    ),
    "row_count": ("bigint", "The materialization's dagster/row_count: the rows of the run's days (partitioned) or of the table."),
    "seconds": ("double", "dbt's execution time of the node; for a Python asset, its step's time."),
    "checks_passed": ("integer", "The asset's checks that passed in this step."),
    "checks_failed": ("integer", "The asset's checks that failed with severity ERROR."),
    "checks_warned": ("integer", "The asset's checks that failed with severity WARN."),
    "recorded_at": ("timestamp", "When the step wrote the row (UTC)."),
}


def ensure_audit_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"create schema if not exists {AUDIT_SCHEMA}")
    conn.execute(f"create table if not exists {AUDIT_TABLE} ({', '.join(f'{n} {t}' for n, (t, _) in COLUMNS.items())})")


def run_days(context: AssetExecutionContext) -> tuple[date | None, date | None]:
    """The days of the run: its partitions, also for an unpartitioned step of a partitioned run."""
    if context.has_partition_key or context.has_partition_key_range:
        window = context.partition_time_window
        return window.start.date(), window.end.date() - timedelta(days=1)
    tags = context.run.tags
    if "dagster/partition" in tags:
        day = date.fromisoformat(tags["dagster/partition"])
        return day, day
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return date.fromisoformat(tags[RANGE_START_TAG]), date.fromisoformat(tags[RANGE_END_TAG])
    return None, None


def record(conn: duckdb.DuckDBPyConnection, context: AssetExecutionContext, outcomes: Iterable[Outcome]) -> None:
    """Replace the step's rows of this run (a step retried in the same run writes them once)."""
    first, last = run_days(context)
    step = context.op_def.name
    run = context.run
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(run.run_id, run.job_name, step, first, last, *asdict(o).values(), now) for o in outcomes]
    ensure_audit_table(conn)
    conn.execute("begin")
    try:
        conn.execute(f"delete from {AUDIT_TABLE} where run_id = ? and step = ?", [run.run_id, step])
        if rows:
            conn.executemany(f"insert into {AUDIT_TABLE} values ({', '.join('?' * len(COLUMNS))})", rows)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def outcomes_from_events(context: AssetExecutionContext, events: Iterable, error: BaseException | None = None) -> dict[str, Outcome]:
    """One outcome per asset the events materialized or checked, from Dagster's events (the
    per-day copies of a materialization, AssetMaterialization events, are not read); with an error, the selected
    assets it left without a materialization are recorded as failed."""
    outcomes: dict[str, Outcome] = {}
    materialized: set[str] = set()

    def outcome(key) -> Outcome:
        name = key.to_user_string()
        return outcomes.setdefault(name, Outcome(asset_key=name))

    for event in events:
        if isinstance(event, (Output, MaterializeResult)):
            key = context.assets_def.keys_by_output_name[event.output_name] if isinstance(event, Output) else event.asset_key
            metadata = event.metadata or {}
            found = outcome(key or context.asset_key)
            materialized.add(found.asset_key)
            found.row_count = _int(metadata.get(ROW_COUNT))
            found.rows_loaded = _int(metadata.get(ROWS_LOADED))
            found.rows_quarantined = _int(metadata.get(ROWS_QUARANTINED))
        elif isinstance(event, (AssetCheckResult, AssetCheckEvaluation)):
            key = event.asset_key if isinstance(event, AssetCheckEvaluation) else (event.asset_key or context.asset_key)
            found = outcome(key)
            if event.passed:
                found.checks_passed += 1
            elif event.severity == AssetCheckSeverity.WARN:
                found.checks_warned += 1
            else:
                found.checks_failed += 1
    if error is not None:
        message = f"{type(error).__name__}: {error}"[:2000]
        for key in context.selected_asset_keys:
            found = outcome(key)
            if found.asset_key not in materialized:
                found.status, found.message = "error", message
    return outcomes


def _int(value) -> int | None:
    if value is None:
        return None
    raw = getattr(value, "value", value)
    return int(raw) if isinstance(raw, (int, float)) else None


def recorded(
    context: AssetExecutionContext,
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    events: Iterable,
) -> Iterator:
    """A Python asset's events, passed on as they come; when the step ends (or fails), its
    audit rows: each asset's outcome with the step's time, the rows written being its
    row count. When the audit rows cannot be written (the warehouse itself failed), the
    step's own error is the one raised."""
    started = time.monotonic()
    seen: list = []
    error: BaseException | None = None
    try:
        for event in events:
            seen.append(event)
            yield event
    except BaseException as exc:
        error = exc
        raise
    finally:
        outcomes = outcomes_from_events(context, seen, error)
        for found in outcomes.values():
            found.seconds = round(time.monotonic() - started, 3)
            found.rows_written = found.row_count
        if error is None:
            with connect() as conn:
                record(conn, context, outcomes.values())
        else:
            record_after_failure(context, connect, outcomes.values())


def record_after_failure(
    context: AssetExecutionContext, connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]], outcomes: Iterable[Outcome]
) -> None:
    """The rows of a failed step, when the warehouse can be opened: the step's own error
    (a lock held outside Dagster, which the step's retry then waits out) is the one raised,
    not the audit's."""
    try:
        with connect() as conn:
            record(conn, context, outcomes)
    except Exception as exc:  # noqa: BLE001 - the step's error is the one that matters
        context.log.warning(f"the audit rows of this failed step could not be written: {exc}")
