"""The raw schema: the tables ingestion writes, and the one way it writes them.

The raw tables carry no primary-key or unique constraints (keys are enforced by
dbt tests): a day is replaced as a whole in one transaction, and DuckDB's
write-ahead log then has no index to replay after a hard kill.
"""

from __future__ import annotations

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
    "raw_bytes": "bigint",  # the size of the whole message (raw_text is truncated)
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


# Copies of a message id on other days than its kept copy (the earliest received, wherever
# it lands): raw.events keeps every day's rows, staging leaves these out. Maintained by
# load_events_day for the message ids a day shares with other days.
SUPERSEDED_COLUMNS = {
    "event_date": "date not null",  # the day of the superseded copy
    "message_id": "varchar not null",
    "kept_event_date": "date",  # the day of the kept copy
    "kept_received_at": "timestamp",
}
# Days whose kept messages changed because another day was loaded: the dbt step of the
# daily models rebuilds them (product_analytics.transform.restatements) and clears them.
RESTATED_COLUMNS = {
    "event_date": "date not null",
    "restated_at": "timestamp",
    "by_load_of": "date",  # the day whose load changed it
}


# Per loaded day and input file: what the load read of that file for the day (the file
# reconciliation: rows scanned = loaded + quarantined + duplicates, per file).
FILE_LOAD_COLUMNS = {
    "event_date": "date not null",
    "source_file": "varchar",
    "input_rows": "bigint",
    "quarantined_rows": "bigint",
    "duplicate_rows": "bigint",  # valid copies of a message id kept from another row of the day
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
    conn.execute("alter table raw.quarantine add column if not exists raw_bytes bigint")  # warehouses from before it was kept
    conn.execute(_plain_ddl("raw.event_loads", LOAD_COLUMNS))
    conn.execute(_plain_ddl("raw.superseded_events", SUPERSEDED_COLUMNS))
    conn.execute(_plain_ddl("raw.restated_days", RESTATED_COLUMNS))
    conn.execute(_plain_ddl("raw.event_file_loads", FILE_LOAD_COLUMNS))


def raw_table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``raw.<table>`` exists (readers that may run before any load)."""
    query = "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = ?"
    return conn.execute(query, [table]).fetchall()[0][0] > 0


def in_transaction(conn: duckdb.DuckDBPyConnection, statements: list[tuple[str, list | dict]]) -> None:
    """Run statements all or nothing."""
    conn.execute("begin transaction")
    try:
        for sql, params in statements:
            conn.execute(sql, params)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
