"""Raw ingestion assets, partitioned by UTC event day."""

from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_duckdb import DuckDBResource

from product_analytics.ingestion.load import (
    SOURCE_COLUMNS,
    EventDayStats,
    MissedDay,
    ensure_raw_schema,
    load_events_day,
    load_source_day,
    loaded_days,
    missed_late_events,
)
from product_analytics.ingestion.resources import SimulatorSource
from product_analytics.operations.freshness import DAILY_FRESHNESS
from product_analytics.partitions import daily_partitions, days_in_window, single_run_backfill
from product_analytics.resources import DUCKDB_WRITER_POOL

RAW_GROUP = "ingestion"
RAW_EVENTS = AssetKey(["raw", "events"])
LATE_EVENTS_CHECK = "no_events_later_than_the_lookback"
LATE_EVENT_SCAN_DAYS = 30  # how far before a run's window the late-event check looks


def _days(context: AssetExecutionContext):
    window = context.partition_time_window
    return days_in_window(window.start, window.end)


def event_metadata(stats: list[EventDayStats]) -> dict:
    """Totals over the processed days, plus one line per day."""
    table = ["| day | rows | users | anonymous ids | duplicates | late | first event | last event |", "|---|---|---|---|---|---|---|---|"]
    table += [
        f"| {s.day} | {s.rows} | {s.distinct_users} | {s.distinct_anonymous_ids} | {s.duplicates} | {s.late_events} "
        f"| {s.min_event_at} | {s.max_event_at} |"
        for s in stats
    ]
    times = [s.min_event_at for s in stats if s.min_event_at] + [s.max_event_at for s in stats if s.max_event_at]
    return {
        "rows": MetadataValue.int(sum(s.rows for s in stats)),
        "distinct_users": MetadataValue.int(max((s.distinct_users for s in stats), default=0)),
        "duplicates": MetadataValue.int(sum(s.duplicates for s in stats)),
        "late_events": MetadataValue.int(sum(s.late_events for s in stats)),
        "min_event_at": MetadataValue.text(str(min(times)) if times else "none"),
        "max_event_at": MetadataValue.text(str(max(times)) if times else "none"),
        "days": MetadataValue.md("\n".join(table)),
    }


def late_events_check(missed: list[MissedDay], first_scanned, last_scanned) -> AssetCheckResult:
    """Warns with the messages of days before the run's window that arrived after those days were loaded."""
    total = sum(m.missed for m in missed)
    table = "| day | messages | hours late (latest) |\n|---|---|---|\n" + "\n".join(
        f"| {m.day} | {m.missed} | {m.max_hours_late} |" for m in missed
    )
    return AssetCheckResult(
        check_name=LATE_EVENTS_CHECK,
        asset_key=RAW_EVENTS,
        passed=total == 0,
        severity=AssetCheckSeverity.WARN,
        description=(f"{total} messages arrived after their day was last loaded; backfill these days" if total else None),
        metadata={
            "late_messages": MetadataValue.int(total),
            "max_hours_late": MetadataValue.float(max((m.max_hours_late for m in missed), default=0.0)),
            "days_to_backfill": MetadataValue.text(", ".join(str(m.day) for m in missed) or "none"),
            "scanned_days": MetadataValue.text(f"{first_scanned} .. {last_scanned}"),
            "per_day": MetadataValue.md(table if missed else "none"),
        },
    )


@asset(
    key=RAW_EVENTS,
    group_name=RAW_GROUP,
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    pool=DUCKDB_WRITER_POOL,
    kinds={"duckdb", "python"},
    check_specs=[AssetCheckSpec(LATE_EVENTS_CHECK, asset=RAW_EVENTS, description="Messages later than the lookback window")],
    freshness_policy=DAILY_FRESHNESS,
)
def raw_events(context: AssetExecutionContext, duckdb: DuckDBResource, event_source: SimulatorSource):
    """Every track, page, screen and identify message whose event time falls on the day,
    as received by the ingestion clock; a re-run replaces the day and adds late arrivals."""
    available_at = event_source.available_at()
    Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
    days = _days(context)
    stats = []
    with duckdb.get_connection() as conn:
        ensure_raw_schema(conn)
        for day in days:
            stats.append(load_events_day(conn, day, event_source.events_path(day), available_at))
            context.log.info(f"raw.events {day}: {stats[-1].rows} messages")
        conn.execute("checkpoint")
        first_scanned, last_scanned = days[0] - timedelta(days=LATE_EVENT_SCAN_DAYS), days[0] - timedelta(days=1)
        files = {day: event_source.existing_events_path(day) for day in loaded_days(conn, first_scanned, last_scanned)}
        missed = missed_late_events(conn, {d: p for d, p in files.items() if p}, available_at)
    metadata = event_metadata(stats)
    metadata["available_at"] = MetadataValue.text(available_at.isoformat())
    yield MaterializeResult(metadata=metadata)
    yield late_events_check(missed, first_scanned, last_scanned)


@multi_asset(
    specs=[
        AssetSpec(
            AssetKey(["raw", table]),
            group_name=RAW_GROUP,
            kinds={"duckdb", "python"},
            description=f"The product database's `{table}` table as it stood at the end of each day.",
        )
        for table in SOURCE_COLUMNS
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    pool=DUCKDB_WRITER_POOL,
    can_subset=True,
)
def raw_source_tables(context: AssetExecutionContext, duckdb: DuckDBResource, event_source: SimulatorSource):
    """Daily images of the operational tables (users, posts, orders), for dbt snapshots."""
    Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
    days = _days(context)
    with duckdb.get_connection() as conn:
        ensure_raw_schema(conn)
        for key in context.selected_asset_keys:
            table = key.path[-1]
            rows = {day: load_source_day(conn, table, day, event_source.source_path(table, day)) for day in days}
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "rows_last_day": MetadataValue.int(rows[days[-1]]),
                    "days": MetadataValue.md("| day | rows |\n|---|---|\n" + "\n".join(f"| {d} | {n} |" for d, n in rows.items())),
                },
            )
        conn.execute("checkpoint")
