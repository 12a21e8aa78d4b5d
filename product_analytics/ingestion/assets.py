"""Raw ingestion assets, partitioned by UTC event day."""

import hashlib
from datetime import date, timedelta
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from product_analytics.ingestion.load import (
    EventDayStats,
    FileReconciliation,
    MissedDay,
    file_reconciliation,
    load_events_day,
    load_source_day,
)
from product_analytics.ingestion.schema import SOURCE_COLUMNS, ensure_raw_schema
from product_analytics.ingestion.sources import EventSource
from product_analytics.policies import audit_trail
from product_analytics.policies.audit_trail import ROWS_LOADED, ROWS_QUARANTINED
from product_analytics.policies.freshness import DAILY_FRESHNESS
from product_analytics.policies.partitions import daily_partitions, days_in_window, single_run_backfill
from product_analytics.policies.pools import DUCKDB_WRITER_POOL
from product_analytics.policies.table_figures import Window, materializations_per_day, table_figures
from product_analytics.resources.transient import retried_when_transient
from product_analytics.resources.warehouse import Warehouse

RAW_GROUP = "ingestion"
RAW_EVENTS = AssetKey(["raw", "events"])
LATE_EVENTS_CHECK = "no_events_later_than_the_lookback"
QUARANTINE_CHECK = "quarantine_rate_within_threshold"
RECONCILIATION_CHECK = "every_input_row_accounted_for"
FILES_SHOWN = 50  # files listed in the metadata (those that do not reconcile first)
LATE_EVENT_SCAN_DAYS = 30  # how far before a run's window the late-event check looks


def _days(context: AssetExecutionContext):
    window = context.partition_time_window
    return days_in_window(window.start, window.end)


def event_metadata(stats: list[EventDayStats], files: list[FileReconciliation]) -> dict:
    """Totals over the processed days, the reconciliation (per day and per file), and one line per day."""
    table = [
        "| day | input rows | loaded | quarantined | duplicates | users | anonymous ids | late | first event | last event |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    table += [
        f"| {s.day} | {s.input_rows} | {s.rows} | {s.quarantined} | {s.duplicates} | {s.distinct_users} | {s.distinct_anonymous_ids} "
        f"| {s.late_events} | {s.min_event_at} | {s.max_event_at} |"
        for s in stats
    ]
    reasons: dict[str, int] = {}
    for s in stats:
        for reason, count in s.quarantine_reasons:
            reasons[reason] = reasons.get(reason, 0) + count
    times = [s.min_event_at for s in stats if s.min_event_at] + [s.max_event_at for s in stats if s.max_event_at]
    return {
        ROWS_LOADED: MetadataValue.int(sum(s.rows for s in stats)),
        "input_rows": MetadataValue.int(sum(s.input_rows for s in stats)),
        ROWS_QUARANTINED: MetadataValue.int(sum(s.quarantined for s in stats)),
        "reconciled": MetadataValue.bool(all(s.reconciles for s in stats) and all(f.reconciles for f in files)),
        "files": MetadataValue.md(files_table(files)),
        "quarantine_reasons": MetadataValue.md(
            "| reason | rows |\n|---|---|\n" + "\n".join(f"| {r} | {n} |" for r, n in sorted(reasons.items())) if reasons else "none"
        ),
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
    check_specs=[
        AssetCheckSpec(LATE_EVENTS_CHECK, asset=RAW_EVENTS, description="Messages later than the lookback window"),
        AssetCheckSpec(QUARANTINE_CHECK, asset=RAW_EVENTS, description="Share of each day's input rows sent to raw.quarantine"),
        AssetCheckSpec(
            RECONCILIATION_CHECK,
            asset=RAW_EVENTS,
            description="Per day and per input file: rows scanned = loaded + quarantined + duplicates",
        ),
    ],
    freshness_policy=DAILY_FRESHNESS,
)
def raw_events(context: AssetExecutionContext, duckdb: Warehouse, event_source: EventSource):
    """Every track, page, screen, identify, group and alias message whose event time falls on
    the day, one row per message id; a re-run replaces the day and adds late arrivals.
    Rows that fail validation go to `raw.quarantine` with their reason."""
    yield from audit_trail.recorded(context, duckdb.get_connection, _load_events(context, duckdb, event_source))


def _load_events(context: AssetExecutionContext, duckdb: Warehouse, event_source: EventSource):
    Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
    days = _days(context)
    stats = []
    with retried_when_transient(duckdb.lock_timeout_seconds), duckdb.get_connection() as conn:
        ensure_raw_schema(conn)
        scan = event_source.prepare(conn)
        for day in days:
            stats.append(load_events_day(conn, day, event_source.event_inputs(conn, day), rules=event_source.rules))
            s = stats[-1]
            counts = f"{s.input_rows} rows in, {s.rows} loaded, {s.quarantined} quarantined, {s.duplicates} duplicates"
            context.log.info(f"raw.events {day}: {counts}")
        conn.execute("checkpoint")
        first_scanned, last_scanned = days[0] - timedelta(days=LATE_EVENT_SCAN_DAYS), days[0] - timedelta(days=1)
        missed = event_source.late_days(conn, first_scanned, last_scanned)
        samples = quarantine_samples(conn, days)
        files = file_reconciliation(conn, days[0], days[-1])
        figures, per_day = table_figures(conn, "raw.events", window=Window("event_date", days[0], days[-1]))
    metadata = {**event_metadata(stats, files), **figures}
    metadata["available_at"] = MetadataValue.text(event_source.available_at().isoformat())
    metadata["quarantine_samples"] = MetadataValue.md(samples)
    metadata.update({f"source_{k}": v for k, v in scan.items()})
    # the loads' outcome is the data's version: the days' partitions record the same
    version = hashlib.sha256(repr([(s.day, s.input_rows, s.rows, s.quarantined, s.duplicates) for s in stats]).encode()).hexdigest()[:24]
    yield MaterializeResult(metadata=metadata, data_version=DataVersion(version))
    # each day's partition: that day's totals (the files table stays the run's)
    of_day = {s.day: {k: v for k, v in event_metadata([s], []).items() if k != "files"} for s in stats}
    yield from materializations_per_day(RAW_EVENTS, metadata, per_day, of_day, version)
    yield late_events_check(missed, first_scanned, last_scanned)
    yield quarantine_check(stats, event_source.quarantine_max_rate)
    yield reconciliation_check(stats, files)


def files_table(files: list[FileReconciliation]) -> str:
    """The per-file reconciliation, files that do not reconcile first."""
    if not files:
        return "none"
    shown = sorted(files, key=lambda f: (f.reconciles, f.source_file))[:FILES_SHOWN]
    lines = ["| file | scanned | read | loaded | quarantined | duplicates | reconciled |", "|---|---|---|---|---|---|---|"]
    lines += [
        f"| {f.source_file} | {'' if f.scanned is None else f.scanned} | {f.input_rows} | {f.loaded} | {f.quarantined} "
        f"| {f.duplicates} | {'yes' if f.reconciles else '**no**'} |"
        for f in shown
    ]
    if len(files) > FILES_SHOWN:
        reconciled = all(f.reconciles for f in shown)  # the files that do not reconcile come first
        lines.append(f"| and {len(files) - FILES_SHOWN} more files{', all reconciled' if reconciled else ''} |  |  |  |  |  |  |")
    return "\n".join(lines)


def reconciliation_check(stats: list[EventDayStats], files: list[FileReconciliation]) -> AssetCheckResult:
    """Fails when a day or a file has rows that are neither loaded, quarantined nor counted as duplicates."""
    bad_days = [s.day for s in stats if not s.reconciles]
    bad_files = [f.source_file for f in files if not f.reconciles]
    problems = [f"days {', '.join(str(d) for d in bad_days)}"] * bool(bad_days) + [f"{len(bad_files)} files"] * bool(bad_files)
    return AssetCheckResult(
        check_name=RECONCILIATION_CHECK,
        asset_key=RAW_EVENTS,
        passed=not (bad_days or bad_files),
        severity=AssetCheckSeverity.ERROR,
        description=f"rows unaccounted for in {' and '.join(problems)}: see the metadata table 'files'" if problems else None,
        metadata={
            "days_not_reconciled": MetadataValue.text(", ".join(str(d) for d in bad_days) or "none"),
            "files_not_reconciled": MetadataValue.text("\n".join(bad_files[:FILES_SHOWN]) or "none"),
            "files": MetadataValue.int(len(files)),
            "rows_scanned": MetadataValue.int(sum(f.scanned if f.scanned is not None else f.input_rows for f in files)),
        },
    )


def quarantine_samples(conn, days, limit: int = 10) -> str:
    rows = conn.execute(
        """
        select partition_date, reason, source_file, source_row, left(raw_text, 120) from raw.quarantine
        where source = 'events' and partition_date between ? and ? order by partition_date, source_file, source_row limit ?
        """,
        [days[0], days[-1], limit],
    ).fetchall()
    if not rows:
        return "none"
    lines = ["| day | reason | file | row | raw text |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |" for row in rows]
    return "\n".join(lines)


def quarantine_check(stats: list[EventDayStats], max_rate: float) -> AssetCheckResult:
    """Fails when a day's quarantined share of input rows exceeds ``max_rate``."""
    rates = {s.day: (s.quarantined / s.input_rows if s.input_rows else 0.0) for s in stats}
    over = {day: rate for day, rate in rates.items() if rate > max_rate}
    return AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        asset_key=RAW_EVENTS,
        passed=not over,
        severity=AssetCheckSeverity.ERROR,
        description=(f"quarantine rate above {max_rate:.2%} on {', '.join(str(d) for d in over)}: see raw.quarantine" if over else None),
        metadata={
            "max_rate": MetadataValue.float(max_rate),
            "highest_rate": MetadataValue.float(round(max(rates.values(), default=0.0), 6)),
            "quarantined_rows": MetadataValue.int(sum(s.quarantined for s in stats)),
            "input_rows": MetadataValue.int(sum(s.input_rows for s in stats)),
            "days_over": MetadataValue.text(", ".join(str(d) for d in over) or "none"),
        },
    )


def _days_holding(conn, table: str, first: date, last: date) -> set[date]:
    """Days of ``[first, last]`` with rows of ``raw.<table>`` or quarantine rows of it."""
    rows = conn.execute(
        f"""select snapshot_date from raw.{table} where snapshot_date between ? and ?
            union select partition_date from raw.quarantine where source = ? and partition_date between ? and ?""",
        [first, last, table, first, last],
    ).fetchall()
    return {day for (day,) in rows}


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
def raw_source_tables(context: AssetExecutionContext, duckdb: Warehouse, event_source: EventSource):
    """Daily images of the operational tables (users, posts, orders), for dbt snapshots.
    A day without an image file holds no rows (the snapshots then keep their last state)."""
    yield from audit_trail.recorded(context, duckdb.get_connection, _load_tables(context, duckdb, event_source))


def _load_tables(context: AssetExecutionContext, duckdb: Warehouse, event_source: EventSource):
    Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
    days = _days(context)
    with retried_when_transient(duckdb.lock_timeout_seconds), duckdb.get_connection() as conn:
        ensure_raw_schema(conn)
        for key in context.selected_asset_keys:
            table = key.path[-1]
            files = {day: event_source.table_files(table, day) for day in days}
            # A day with no image file, now or loaded before, has nothing to replace: a range
            # of days without table images (no PA_TABLES_DIR) costs one query, not a
            # transaction per day and table.
            held = _days_holding(conn, table, days[0], days[-1])
            rows = {day: load_source_day(conn, table, day, files[day]) if files[day] or day in held else 0 for day in days}
            figures, per_day = table_figures(conn, f"raw.{table}", window=Window("snapshot_date", days[0], days[-1]))
            quarantined = conn.execute(
                "select count(*) from raw.quarantine where source = ? and partition_date between ? and ?", [table, days[0], days[-1]]
            ).fetchone()[0]
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    **figures,
                    ROWS_LOADED: MetadataValue.int(sum(rows.values())),
                    ROWS_QUARANTINED: MetadataValue.int(int(quarantined)),
                    "rows_last_day": MetadataValue.int(rows[days[-1]]),
                    "days_without_image": MetadataValue.text(", ".join(str(d) for d in days if not files[d]) or "none"),
                    "days": MetadataValue.md(
                        "| day | rows | files |\n|---|---|---|\n" + "\n".join(f"| {d} | {n} | {len(files[d])} |" for d, n in rows.items())
                    ),
                },
            )
            shown = {**figures, "rows_last_day": MetadataValue.int(rows[days[-1]])}
            yield from materializations_per_day(key, shown, per_day, {d: {"files": MetadataValue.int(len(files[d]))} for d in days})
        conn.execute("checkpoint")
