"""A read-only copy of the public tables, for notebooks and BI tools.

DuckDB lets one process write a database file, and a reader that opens the warehouse
holds a lock the pipeline then waits for (and the other way round). Readers open this
copy instead. It is written to a new file beside it and renamed over it, so writing it
never waits for a reader: one that has the old file open keeps reading the old tables
until it reconnects.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

PUBLIC_SCHEMAS = ("marts", "snapshots")


@dataclass(frozen=True)
class Publication:
    path: Path
    tables: dict[str, int]  # schema.table: rows
    size_bytes: int
    seconds: float


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _remove(path: Path) -> None:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)


def publish(conn: duckdb.DuckDBPyConnection, target: Path, run_id: str = "") -> Publication:
    """Copy every table and view of the public schemas (views become tables) into a new
    database file, then rename it to ``target``. ``publication`` in the copy says when."""
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
    tables: dict[str, int] = {}
    conn.execute(f"attach '{staging}' as _pa_readers")
    try:
        for schema in sorted({s for s, _ in relations}):
            conn.execute(f"create schema _pa_readers.{_quote(schema)}")
        for schema, name in relations:
            relation = f"{_quote(schema)}.{_quote(name)}"
            conn.execute(f"create table _pa_readers.{relation} as select * from {relation}")
            tables[f"{schema}.{name}"] = conn.execute(f"select count(*) from _pa_readers.{relation}").fetchone()[0]
        conn.execute(
            "create table _pa_readers.main.publication as select ?::timestamp as published_at, ? as run_id, ? as tables",
            [datetime.now(UTC).replace(tzinfo=None), run_id, len(tables)],
        )
        conn.execute("detach _pa_readers")  # checkpoints: the file is whole and has no WAL
    except BaseException:
        conn.execute("detach database if exists _pa_readers")
        _remove(staging)
        raise
    os.replace(staging, target)
    return Publication(target, tables, target.stat().st_size, time.perf_counter() - started)
