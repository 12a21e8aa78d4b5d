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

from product_analytics.ingestion import readers, validation

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


EVENT_JSON_COLUMNS = ["properties", "traits"]
QUARANTINE_COLUMNS = {
    "partition_date": "date not null",  # the day whose load wrote the row
    "source": "varchar not null",  # events, users, posts or orders
    "source_file": "varchar",
    "source_row": "bigint",  # line number (JSONL, blank lines counted) or row number (Parquet, CSV data rows)
    "reason": "varchar not null",  # a code of product_analytics.ingestion.validation.REASONS
    "raw_text": "varchar",  # truncated
    "message_id": "varchar",
    "quarantined_at": "timestamp",
}
# One row per loaded day: the reconciliation input = loaded + quarantined + duplicates.
LOAD_COLUMNS = {
    "event_date": "date not null",
    "input_rows": "bigint",
    "loaded_rows": "bigint",
    "quarantined_rows": "bigint",
    "duplicate_rows": "bigint",
    "files": "bigint",
    "loaded_at": "timestamp",
}


def _ddl(table: str, partition_column: str, columns: dict[str, str]) -> str:
    lines = [f"{partition_column} date not null", *(f'"{c}" {t}' for c, t in columns.items())]
    lines += ["_source_file varchar", "_source_row bigint", "_loaded_at timestamp"]
    body = ",\n    ".join(lines)
    return f"create table if not exists {table} (\n    {body}\n)"


def _plain_ddl(table: str, columns: dict[str, str]) -> str:
    return f"create table if not exists {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})"


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists raw")
    conn.execute(_ddl("raw.events", "event_date", EVENT_COLUMNS))
    for table, columns in SOURCE_COLUMNS.items():
        conn.execute(_ddl(f"raw.{table}", "snapshot_date", columns))
    for table in ["events", *SOURCE_COLUMNS]:  # warehouses created before row numbers were kept
        conn.execute(f"alter table raw.{table} add column if not exists _source_row bigint")
    conn.execute(_plain_ddl("raw.quarantine", QUARANTINE_COLUMNS))
    conn.execute(_plain_ddl("raw.event_loads", LOAD_COLUMNS))


def in_transaction(conn: duckdb.DuckDBPyConnection, statements: list[tuple[str, list]]) -> None:
    """Run statements all or nothing."""
    conn.execute("begin transaction")
    try:
        for sql, params in statements:
            conn.execute(sql, params)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def replace_partition(conn: duckdb.DuckDBPyConnection, table: str, partition_column: str, day: date, insert_sql: str, params: list) -> None:
    """Delete a day and insert it again, all or nothing."""
    in_transaction(conn, [(f"delete from {table} where {partition_column} = ?", [day]), (insert_sql, params)])


@dataclass(frozen=True)
class EventInput:
    """A file holding messages of the day being loaded.

    ``home_date``: the day its undatable rows are attributed to; ``written_at``: when the
    file was written; ``received_by``: only rows received by then are input (the
    simulator's ingestion clock), or None for all rows.
    """

    path: Path
    home_date: date
    written_at: datetime
    received_by: datetime | None = None

    def candidates(self, conn: duckdb.DuckDBPyConnection) -> readers.Candidates:
        fields = [*EVENT_COLUMNS]
        if self.received_by is not None:
            received = f"received_at <= {readers.sql_literal(self.received_by)}::timestamp"
            return readers.tabular_candidates(conn, self.path, "parquet", fields, EVENT_JSON_COLUMNS, where=received)
        return readers.candidates(conn, self.path, fields, EVENT_JSON_COLUMNS)


@dataclass(frozen=True)
class EventDayStats:
    day: date
    rows: int  # loaded: one per message id
    distinct_users: int
    distinct_anonymous_ids: int
    duplicates: int  # valid copies of a message already loaded
    late_events: int  # received after their event day had ended
    min_event_at: datetime | None
    max_event_at: datetime | None
    input_rows: int = 0
    quarantined: int = 0
    quarantine_reasons: tuple[tuple[str, int], ...] = ()

    @property
    def reconciles(self) -> bool:
        return self.input_rows == self.rows + self.quarantined + self.duplicates

    def as_dict(self) -> dict:
        return asdict(self)


_WORK_COLUMNS = {
    **EVENT_COLUMNS,
    "_source_file": "varchar",
    "_source_row": "bigint",
    "_raw": "varchar",
    "_reason": "varchar",
}


def _insert_rejects(conn: duckdb.DuckDBPyConnection, work_table: str, path: Path, rejects: list[tuple[int, str]]) -> None:
    """Lines the reader could not decode join the work table as quarantine rows."""
    if rejects:
        conn.executemany(
            f"insert into {work_table} (_source_file, _source_row, _raw, _reason) values (?, ?, ?, 'unreadable_line')",
            [[str(path), line, text] for line, text in rejects],
        )


def _quarantine_insert(source: str, work_table: str, message_id: str) -> str:
    raw_text = f"left(_raw, {validation.RAW_TEXT_LIMIT})"
    return f"""
        insert into raw.quarantine
        select ?::date, '{source}', _source_file, _source_row, _reason, {raw_text}, {message_id}, now()::timestamp
        from {work_table} where _reason is not null
    """


def load_events_day(
    conn: duckdb.DuckDBPyConnection,
    day: date,
    inputs: list[EventInput] | Path,
    available_at: datetime | None = None,
    rules: validation.Rules | None = None,
) -> EventDayStats:
    """Replace ``raw.events`` (and the day's quarantine rows) with the messages of ``day``.

    Every input row attributed to the day ends up exactly once: loaded (the earliest
    received copy of each message id), counted as a duplicate, or quarantined with its
    reason. A single Parquet path stands for the simulator's file of the day.
    """
    if isinstance(inputs, Path):
        inputs = [EventInput(inputs, day, available_at, received_by=available_at)]
    rules = rules or validation.Rules()
    conn.execute("set TimeZone = 'UTC'")
    columns = ", ".join(f'"{c}" {t}' for c, t in _WORK_COLUMNS.items())
    conn.execute(f"create or replace temp table _pa_day ({columns})")
    names = ", ".join(f'"{c}"' for c in _WORK_COLUMNS)
    for item in inputs:
        found = item.candidates(conn)
        validated = validation.validated_events(found.sql, rules, item.home_date, item.written_at)
        conn.execute(
            f"insert into _pa_day by name select {names} from ({validated}) where coalesce(_event_date, _home_date) = ?",
            [day],
        )
        if item.home_date == day:
            _insert_rejects(conn, "_pa_day", item.path, found.rejects)
    values = ", ".join(f'"{c}"::{t} as "{c}"' for c, t in EVENT_COLUMNS.items())
    in_transaction(
        conn,
        [
            ("delete from raw.events where event_date = ?", [day]),
            ("delete from raw.quarantine where source = 'events' and partition_date = ?", [day]),
            ("delete from raw.event_loads where event_date = ?", [day]),
            (
                f"""
                insert into raw.events by name
                select ?::date as event_date, {values}, _source_file, _source_row, now()::timestamp as _loaded_at
                from _pa_day where _reason is null
                qualify row_number() over (partition by message_id order by received_at nulls last, _source_file, _source_row) = 1
                """,
                [day],
            ),
            (_quarantine_insert("events", "_pa_day", "message_id"), [day]),
            (
                """
                insert into raw.event_loads
                select ?::date, count(*), count(distinct message_id) filter (where _reason is null),
                       count(*) filter (where _reason is not null),
                       count(*) filter (where _reason is null) - count(distinct message_id) filter (where _reason is null),
                       ?, now()::timestamp
                from _pa_day
                """,
                [day, len(inputs)],
            ),
        ],
    )
    conn.execute("drop table _pa_day")
    return event_day_stats(conn, day)


def event_day_stats(conn: duckdb.DuckDBPyConnection, day: date) -> EventDayStats:
    row = conn.execute(
        """
        select count(*), count(distinct user_id), count(distinct anonymous_id),
               count(*) filter (where received_at >= event_date + interval 1 day),
               min("timestamp"), max("timestamp")
        from raw.events where event_date = ?
        """,
        [day],
    ).fetchall()[0]
    loads = conn.execute("select input_rows, quarantined_rows, duplicate_rows from raw.event_loads where event_date = ?", [day]).fetchall()
    input_rows, quarantined, duplicates = loads[0] if loads else (row[0], 0, 0)
    reasons = conn.execute(
        "select reason, count(*) from raw.quarantine where source = 'events' and partition_date = ? group by 1 order by 2 desc, 1", [day]
    ).fetchall()
    rows, users, anonymous, late, first, last = row
    return EventDayStats(day, rows, users, anonymous, duplicates, late, first, last, input_rows, quarantined, tuple(reasons))


def load_source_day(conn: duckdb.DuckDBPyConnection, table: str, day: date, paths: list[Path] | Path) -> int:
    """Replace the image of an operational table as of the end of ``day``; returns its rows.

    No file for the day means no image: the day holds no rows. A row without id or with a
    value that does not fit its column goes to the quarantine; an id twice in one image
    keeps its latest ``updated_at``.
    """
    columns = SOURCE_COLUMNS[table]
    paths = [paths] if isinstance(paths, Path) else paths
    conn.execute("set TimeZone = 'UTC'")
    work = {**columns, "_source_file": "varchar", "_source_row": "bigint", "_raw": "varchar", "_reason": "varchar"}
    conn.execute(f"create or replace temp table _pa_image ({', '.join(f'{c} {t}' for c, t in work.items())})")
    names = ", ".join(work)
    for path in paths:
        found = readers.candidates(conn, path, list(columns), [])
        conn.execute(f"insert into _pa_image by name select {names} from ({validation.validated_table(found.sql, columns)})")
        _insert_rejects(conn, "_pa_image", path, found.rejects)
    values = ", ".join(f'"{c}"' for c in columns)
    in_transaction(
        conn,
        [
            (f"delete from raw.{table} where snapshot_date = ?", [day]),
            ("delete from raw.quarantine where source = ? and partition_date = ?", [table, day]),
            (
                f"""
                insert into raw.{table} by name
                select ?::date as snapshot_date, {values}, _source_file, _source_row, now()::timestamp as _loaded_at
                from _pa_image where _reason is null
                qualify row_number() over (partition by id order by updated_at desc nulls last, _source_file, _source_row) = 1
                """,
                [day],
            ),
            (_quarantine_insert(table, "_pa_image", "id"), [day]),
        ],
    )
    conn.execute("drop table _pa_image")
    return conn.execute(f"select count(*) from raw.{table} where snapshot_date = ?", [day]).fetchall()[0][0]


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
            select count(distinct message_id), max(received_at) from available
            anti join (select message_id from raw.events where event_date = ?) as loaded using (message_id)
            """,
            [str(path), start, start + timedelta(days=1), available_at, day],
        ).fetchall()[0]
        if missed:
            hours = (latest - (start + timedelta(days=1))).total_seconds() / 3600
            found.append(MissedDay(day, missed, round(hours, 1)))
    return found


def loaded_days(conn: duckdb.DuckDBPyConnection, first: date, last: date) -> list[date]:
    rows = conn.execute(
        "select event_date from (select event_date from raw.event_loads union select event_date from raw.events) "
        "where event_date between ? and ? order by 1",
        [first, last],
    )
    return [row[0] for row in rows.fetchall()]
