"""Raw ingestion assets, partitioned by UTC event day."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, asset, multi_asset
from dagster_duckdb import DuckDBResource

from product_analytics.ingestion.load import SOURCE_COLUMNS, EventDayStats, ensure_raw_schema, load_events_day, load_source_day
from product_analytics.ingestion.resources import SimulatorSource
from product_analytics.partitions import daily_partitions, days_in_window, single_run_backfill
from product_analytics.resources import DUCKDB_WRITER_POOL

RAW_GROUP = "ingestion"


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


@asset(
    key=AssetKey(["raw", "events"]),
    group_name=RAW_GROUP,
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    pool=DUCKDB_WRITER_POOL,
    kinds={"duckdb", "python"},
)
def raw_events(context: AssetExecutionContext, duckdb: DuckDBResource, event_source: SimulatorSource) -> MaterializeResult:
    """Every track, page, screen and identify message whose event time falls on the day,
    as received by the ingestion clock; a re-run replaces the day and adds late arrivals."""
    available_at = event_source.available_at()
    Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
    stats = []
    with duckdb.get_connection() as conn:
        ensure_raw_schema(conn)
        for day in _days(context):
            stats.append(load_events_day(conn, day, event_source.events_path(day), available_at))
            context.log.info(f"raw.events {day}: {stats[-1].rows} messages")
        conn.execute("checkpoint")
    metadata = event_metadata(stats)
    metadata["available_at"] = MetadataValue.text(available_at.isoformat())
    return MaterializeResult(metadata=metadata)


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
