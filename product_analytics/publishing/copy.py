"""A read-only copy of the public tables, for notebooks and BI tools.

DuckDB lets one process write a database file, and a reader that opens the warehouse
holds a lock the pipeline then waits for (and the other way round). Readers open this
copy instead. It is written to a new file beside it and renamed over it, so writing it
never waits for a reader: one that has the old file open keeps reading the old tables
until it reconnects.

The event-level relations, the largest, follow the day's data: the new file starts as a
copy of the previous publication, and they get only the rows that can have changed since
(the days the daily models rebuilt, the devices whose identity or runaway flag was
recomputed: dbt/macros/incremental_changes.sql); every other relation is copied whole.
Whenever that is not known exactly (no previous copy, another layout, change records it
has not followed) the copy is made whole.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

PUBLIC_SCHEMAS = ("marts", "snapshots")
STATE_SCHEMA = "intermediate"  # where dbt keeps the change log and records
CURSOR_NAME = "reader_copy"  # the copy's cursor among those of the marts kept by key
# Relations copied by change: the rows of the days rebuilt (by the time their daily batches
# go by), of the devices whose identity or runaway flag was recomputed where those reach
# the relation, of the visitors fct_sessions rewrote. Every other relation is copied whole.
CHANGED_DEVICES = "anonymous_id in (select key_value from _pa_changed where key_column = 'anonymous_id')"
BY_CHANGE = {
    "marts.fct_event_paths": "cast(session_start_at as date) in (select rebuilt_date from _pa_changed_days)",
    "marts.fct_events": f"(cast(session_start_at as date) in (select rebuilt_date from _pa_changed_days) or {CHANGED_DEVICES})",
    "marts.fct_play_sessions": f"(cast(started_at as date) in (select rebuilt_date from _pa_changed_days) or {CHANGED_DEVICES})",
    "marts.fct_sessions": "visitor_id in (select key_value from _pa_changed where key_column = 'visitor_id')",
}
# The marts whose change records the copy reads.
RECORDS = ("int_anonymous_ids_mapped", "int_devices_flagged_runaway", "fct_sessions")


@dataclass(frozen=True)
class Publication:
    path: Path
    tables: dict[str, int]  # schema.table: rows
    size_bytes: int
    seconds: float
    by_change: bool = False  # the event-level relations got only their changed rows


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _remove(path: Path) -> None:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)


def _columns(conn: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple]:
    return conn.execute(
        f"""select table_schema, table_name, column_name, data_type from information_schema.columns
        where table_catalog = ? and table_schema in ({", ".join("?" for _ in PUBLIC_SCHEMAS)})
        order by 1, 2, ordinal_position""",
        [catalog, *PUBLIC_SCHEMAS],
    ).fetchall()


def _state_exists(conn: duckdb.DuckDBPyConnection) -> bool:
    found = conn.execute(
        """select count(*) from information_schema.tables
        where table_catalog = current_database() and table_schema = ?
            and table_name in ('int_days_rebuilt', '_replaced_keys', '_incremental_cursors')""",
        [STATE_SCHEMA],
    ).fetchone()[0]
    return found == 3


def _changes_through(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    """The newest change the copy can follow (none without dbt's change state)."""
    if not _state_exists(conn):
        return None
    return conn.execute(
        f"""select greatest(
            (select max(rebuilt_at) from {STATE_SCHEMA}.int_days_rebuilt),
            (select max(replaced_at) from {STATE_SCHEMA}._replaced_keys where list_contains(?, model))
        )""",
        [list(RECORDS)],
    ).fetchone()[0]


def _followed_since(conn: duckdb.DuckDBPyConnection, previous: Path) -> datetime | None:
    """The cursor of the previous copy, when the warehouse kept every change after it and
    none of the marts it reads was rebuilt from scratch since."""
    if not previous.exists() or not _state_exists(conn):
        return None
    registered = conn.execute(
        f"select max(consumed_through) from {STATE_SCHEMA}._incremental_cursors where model = ?", [CURSOR_NAME]
    ).fetchone()[0]
    try:
        conn.execute(f"attach '{previous}' as _pa_previous (read_only)")
    except duckdb.Error:
        return None
    try:
        columns = [
            c
            for (c,) in conn.execute(
                "select column_name from information_schema.columns where table_catalog = '_pa_previous' and table_name = 'publication'"
            ).fetchall()
        ]
        if "changes_through" not in columns:
            return None
        cursor = conn.execute("select changes_through from _pa_previous.main.publication").fetchone()[0]
        same_layout = _columns(conn, "_pa_previous") == _columns(conn, conn.execute("select current_database()").fetchone()[0])
    finally:
        conn.execute("detach _pa_previous")
    if cursor is None or cursor != registered or not same_layout:
        return None
    rebuilt_whole = conn.execute(  # a mart it reads was built from scratch since
        f"select count(*) from {STATE_SCHEMA}._replaced_keys where list_contains(?, model) and key_column = '*' and replaced_at > ?",
        [list(RECORDS), cursor],
    ).fetchone()[0]
    return None if rebuilt_whole else cursor


def publish(conn: duckdb.DuckDBPyConnection, target: Path, run_id: str = "") -> Publication:
    """Write the copy of every table and view of the public schemas (views become tables) to
    a new database file, then rename it to ``target``. ``publication`` in the copy says when."""
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _remove(staging)
    relations = conn.execute(
        f"""select table_schema, table_name from information_schema.tables
        where table_catalog = current_database() and table_schema in ({", ".join("?" for _ in PUBLIC_SCHEMAS)})
        order by 1, 2""",
        list(PUBLIC_SCHEMAS),
    ).fetchall()
    through = _changes_through(conn)
    since = _followed_since(conn, target) if through is not None else None
    by_change = since is not None
    if by_change:
        shutil.copyfile(target, staging)
        conn.execute(
            f"""create or replace temp table _pa_changed_days as
            select distinct rebuilt_date from {STATE_SCHEMA}.int_days_rebuilt where rebuilt_at > ?""",
            [since],
        )
        conn.execute(
            f"""create or replace temp table _pa_changed as select distinct key_column, key_value
            from {STATE_SCHEMA}._replaced_keys where list_contains(?, model) and replaced_at > ?""",
            [list(RECORDS), since],
        )
    tables: dict[str, int] = {}
    conn.execute(f"attach '{staging}' as _pa_readers")
    try:
        for schema in sorted({s for s, _ in relations}):
            conn.execute(f"create schema if not exists _pa_readers.{_quote(schema)}")
        for schema, name in relations:
            relation = f"{_quote(schema)}.{_quote(name)}"
            changed = BY_CHANGE.get(f"{schema}.{name}") if by_change else None
            if changed:
                conn.execute(f"delete from _pa_readers.{relation} where {changed}")
                conn.execute(f"insert into _pa_readers.{relation} select * from {relation} where {changed}")
            else:
                conn.execute(f"create or replace table _pa_readers.{relation} as select * from {relation}")
            tables[f"{schema}.{name}"] = conn.execute(f"select count(*) from _pa_readers.{relation}").fetchone()[0]
        conn.execute(
            """create or replace table _pa_readers.main.publication as
            select ?::timestamp as published_at, ? as run_id, ? as tables, ?::timestamptz as changes_through""",
            [datetime.now(UTC).replace(tzinfo=None), run_id, len(tables), through],
        )
        conn.execute("detach _pa_readers")  # checkpoints: the file is whole and has no WAL
    except BaseException:
        conn.execute("detach database if exists _pa_readers")
        _remove(staging)
        raise
    os.replace(staging, target)
    if through is not None:  # the change records the copy still needs are kept until it has read them
        conn.execute(f"delete from {STATE_SCHEMA}._incremental_cursors where model = ?", [CURSOR_NAME])
        conn.execute(f"insert into {STATE_SCHEMA}._incremental_cursors values (?, ?)", [CURSOR_NAME, through])
    return Publication(target, tables, target.stat().st_size, time.perf_counter() - started, by_change)
