"""Loading one day into the raw tables: a delete and an insert in one transaction.

The raw tables carry no primary-key or unique constraints (keys are enforced by
dbt tests): a day is replaced as a whole, and DuckDB's write-ahead log then has
no index to replay after a hard kill.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

EVENT_COLUMNS = {
    "message_id": "varchar",
    "type": "varchar",
    "event": "varchar",
    "name": "varchar",
    "anonymous_id": "varchar",
    "user_id": "varchar",
    "timestamp": "timestamp",
    "original_timestamp": "timestamp",
    "sent_at": "timestamp",
    "received_at": "timestamp",
    "context_platform": "varchar",
    "context_app_version": "varchar",
    "context_locale": "varchar",
    "context_country": "varchar",
    "context_campaign_source": "varchar",
    "context_campaign_medium": "varchar",
    "context_campaign_name": "varchar",
    "context_page_path": "varchar",
    "context_page_url": "varchar",
    "context_page_referrer": "varchar",
    "properties": "json",
    "traits": "json",
}
SOURCE_COLUMNS = {
    "users": {
        "id": "varchar",
        "email": "varchar",
        "country": "varchar",
        "plan": "varchar",
        "created_at": "timestamp",
        "updated_at": "timestamp",
        "deleted_at": "timestamp",
    },
    "posts": {
        "id": "varchar",
        "user_id": "varchar",
        "body_length": "bigint",
        "is_hidden": "boolean",
        "created_at": "timestamp",
        "updated_at": "timestamp",
    },
    "orders": {
        "id": "varchar",
        "user_id": "varchar",
        "status": "varchar",
        "revenue": "double",
        "created_at": "timestamp",
        "updated_at": "timestamp",
    },
}


def _ddl(table: str, partition_column: str, columns: dict[str, str]) -> str:
    body = ",\n    ".join([f"{partition_column} date not null"] + [f'"{c}" {t}' for c, t in columns.items()])
    return f"create table if not exists {table} (\n    {body},\n    _source_file varchar,\n    _loaded_at timestamp\n)"


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists raw")
    conn.execute(_ddl("raw.events", "event_date", EVENT_COLUMNS))
    for table, columns in SOURCE_COLUMNS.items():
        conn.execute(_ddl(f"raw.{table}", "snapshot_date", columns))


def replace_partition(conn: duckdb.DuckDBPyConnection, table: str, partition_column: str, day: date, insert_sql: str, params: list) -> None:
    """Delete a day and insert it again, all or nothing."""
    conn.execute("begin transaction")
    try:
        conn.execute(f"delete from {table} where {partition_column} = ?", [day])
        conn.execute(insert_sql, params)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


@dataclass(frozen=True)
class EventDayStats:
    day: date
    rows: int
    distinct_users: int
    distinct_anonymous_ids: int
    duplicates: int
    late_events: int  # received after their event day had ended
    min_event_at: datetime | None
    max_event_at: datetime | None

    def as_dict(self) -> dict:
        return asdict(self)


def load_events_day(conn: duckdb.DuckDBPyConnection, day: date, path: Path, available_at: datetime) -> EventDayStats:
    """Replace ``raw.events`` for ``day`` with the messages of that day received by ``available_at``."""
    columns = ", ".join(f'"{c}"::{t} as "{c}"' for c, t in EVENT_COLUMNS.items())
    start = datetime.combine(day, datetime.min.time())
    insert = f"""
        insert into raw.events
        select ?::date as event_date, {columns}, ? as _source_file, now()::timestamp as _loaded_at
        from read_parquet(?)
        where "timestamp" >= ? and "timestamp" < ? and received_at <= ?
    """
    params = [day, str(path), str(path), start, start + timedelta(days=1), available_at]
    replace_partition(conn, "raw.events", "event_date", day, insert, params)
    row = conn.execute(
        """
        select count(*), count(distinct user_id), count(distinct anonymous_id),
               count(*) - count(distinct message_id),
               count(*) filter (where received_at >= event_date + interval 1 day),
               min("timestamp"), max("timestamp")
        from raw.events where event_date = ?
        """,
        [day],
    ).fetchone()
    return EventDayStats(day, *row)


def load_source_day(conn: duckdb.DuckDBPyConnection, table: str, day: date, path: Path) -> int:
    """Replace the image of an operational table as of the end of ``day``; returns its rows."""
    columns = ", ".join(f'"{c}"::{t} as "{c}"' for c, t in SOURCE_COLUMNS[table].items())
    insert = f"""
        insert into raw.{table}
        select ?::date as snapshot_date, {columns}, ? as _source_file, now()::timestamp as _loaded_at
        from read_parquet(?)
    """
    replace_partition(conn, f"raw.{table}", "snapshot_date", day, insert, [day, str(path), str(path)])
    return conn.execute(f"select count(*) from raw.{table} where snapshot_date = ?", [day]).fetchone()[0]


@dataclass(frozen=True)
class MissedDay:
    day: date
    missed: int  # messages available now that the warehouse does not hold
    max_hours_late: float  # how long after the end of their day the latest of them arrived


def missed_late_events(conn: duckdb.DuckDBPyConnection, files: dict[date, Path], available_at: datetime) -> list[MissedDay]:
    """Per loaded day, the messages that arrived after the day was last loaded.

    Such a day is outside the window of the current run, so only a backfill of the
    day brings them in.
    """
    found = []
    for day, path in sorted(files.items()):
        start = datetime.combine(day, datetime.min.time())
        missed, latest = conn.execute(
            """
            with available as (
                select message_id, received_at from read_parquet(?)
                where "timestamp" >= ? and "timestamp" < ? and received_at <= ?
            )
            select count(*), max(received_at) from available
            anti join (select message_id, received_at from raw.events where event_date = ?) as loaded
                using (message_id, received_at)
            """,
            [str(path), start, start + timedelta(days=1), available_at, day],
        ).fetchone()
        if missed:
            hours = (latest - (start + timedelta(days=1))).total_seconds() / 3600
            found.append(MissedDay(day, missed, round(hours, 1)))
    return found


def loaded_days(conn: duckdb.DuckDBPyConnection, first: date, last: date) -> list[date]:
    rows = conn.execute("select distinct event_date from raw.events where event_date between ? and ? order by 1", [first, last])
    return [row[0] for row in rows.fetchall()]
