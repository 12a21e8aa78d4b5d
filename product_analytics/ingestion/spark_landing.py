"""The raw tables as the Spark engine reads them (docs/scale.md): one Parquet file per day
in Hive-style folders, ``<root>/raw/<table>/<day column>=YYYY-MM-DD/data.parquet``, written
from the rows ingestion loaded into DuckDB. dbt registers each table as a view over its
folders (macros/cross_engine.sql, ``register_raw_tables``).

A day's file is written beside the old one under a hidden name (Spark skips names that
start with a dot) and renamed over it: a reader sees the old day or the new one, never a
part. Timestamps are written as instants in UTC (they are UTC in DuckDB), which Spark
reads as its ``timestamp`` in a UTC session; JSON columns are written as their text.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

# The raw tables Spark reads, and their day columns (macros/cross_engine.sql registers the same).
DAY_COLUMNS = {
    "events": "event_date",
    "superseded_events": "event_date",
    "users": "snapshot_date",
    "posts": "snapshot_date",
    "orders": "snapshot_date",
}


def day_file(root: Path, table: str, day: date) -> Path:
    return root / "raw" / table / f"{DAY_COLUMNS[table]}={day.isoformat()}" / "data.parquet"


def write_day(conn: duckdb.DuckDBPyConnection, root: Path, day: date) -> dict[str, int]:
    """Write ``day`` of every table of DAY_COLUMNS from ``raw.<table>`` (an empty file for a
    day without rows, so every folder exists for its view); returns the rows per table."""
    conn.execute("set TimeZone = 'UTC'")
    written = {}
    for table, day_column in DAY_COLUMNS.items():
        columns = conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'raw' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        if not columns:
            raise ValueError(f"raw.{table} does not exist: load the day first")
        selected = ", ".join(_as_written(name, kind) for name, kind in columns if name != day_column)
        target = day_file(root, table, day)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".data.{os.getpid()}.parquet")
        conn.execute(
            f"copy (select {selected} from raw.{table} where {day_column} = ?) to '{partial}' (format parquet)",
            [day],
        )
        os.replace(partial, target)
        written[table] = conn.execute(f"select count(*) from raw.{table} where {day_column} = ?", [day]).fetchone()[0]
    return written


def _as_written(name: str, kind: str) -> str:
    quoted = '"' + name.replace('"', '""') + '"'
    if kind == "TIMESTAMP":
        return f"{quoted}::timestamptz as {quoted}"
    if kind == "JSON":
        return f"{quoted}::varchar as {quoted}"
    return quoted
