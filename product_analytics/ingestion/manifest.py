"""The manifest of a folder of event files: which event days each file holds.

CDP destinations write files by *arrival* time, so any file may hold events of any
day. A daily run must not read a year of files to find one day: each file is read
once when it first appears (or when its size or modification time changes), and the
rows it holds per event day are recorded. Loading day D then reads only the files
that hold rows of D.

Tables (schema ``raw``):
- ``_files``: one row per file seen: path, format, size, modification time, when it was
  scanned, its home day (the day its undatable rows are attributed to), its rows;
- ``_file_days``: rows per (file, attributed event day), quarantined rows included.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from product_analytics.ingestion import readers, validation
from product_analytics.ingestion.load import EventInput, MissedDay
from product_analytics.ingestion.schema import EVENT_COLUMNS, EVENT_JSON_COLUMNS, in_transaction

MANIFEST_DDL = [
    """create table if not exists raw._files (
        path varchar, format varchar, size_bytes bigint, modified_at timestamp, scanned_at timestamp,
        home_date date, rows bigint, first_event_date date, last_event_date date, read_error varchar
    )""",
    "alter table raw._files add column if not exists read_error varchar",  # warehouses from before it was kept
    "create table if not exists raw._file_days (path varchar, event_date date, rows bigint)",
]
READ_ERROR_LIMIT = 500  # characters of the reader's error kept


@dataclass
class ScanReport:
    files: int = 0  # data files in the folder
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # not a supported format, or hidden
    unreadable: list[str] = field(default_factory=list)  # could not be read at all (one quarantine row each)
    rows_scanned: int = 0


def data_files(root: Path) -> tuple[list[Path], list[Path]]:
    """Supported files under ``root`` (recursively), and the other files found."""
    found, ignored = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        hidden = any(part.startswith((".", "_")) for part in path.relative_to(root).parts)
        (ignored if hidden or readers.file_format(path) is None else found).append(path)
    return found, ignored


def _modified_at(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)


# The scan validates every row of a file to learn its days; the loads of those days on the
# same connection read the validated rows it kept (``stage``) instead of the file. Kept in
# temporary tables, they vanish with the connection; past this many rows a scan keeps no
# more, and the loads read those files again.
STAGED_ROWS_LIMIT = 5_000_000
_STAGES = "_pa_staged_files"  # per staged file: path, size, modification time, stage table
_KEPT_BOOKKEEPING = ["_source_file", "_source_row", "_raw", "_reason", "_bytes", "_event_date", "_home_date"]


def _scan_file(
    conn: duckdb.DuckDBPyConnection, path: Path, rules: validation.Rules, stage: str | None
) -> tuple[date, dict[date, int], int]:
    """The file's home day, its rows per attributed day, and its total rows; with ``stage``,
    the validated rows and the reader's rejects are kept in that temporary table."""
    written_at = _modified_at(path)
    found = readers.candidates(conn, path, list(EVENT_COLUMNS), EVENT_JSON_COLUMNS, readers.line_limit(rules.max_message_bytes))
    rows = validation.validated_events(found.sql, rules, written_at.date(), written_at, found.typed)
    if stage is not None:  # what a load reads of a row, no more
        kept = ", ".join(f'"{c}"' for c in [*EVENT_COLUMNS, *_KEPT_BOOKKEEPING])
        conn.execute(f"create or replace temp table {stage} as select {kept} from ({rows})")
        if found.rejects:  # they take the home day (their _event_date is null), as the load gives them
            conn.executemany(
                f"insert into {stage} (_source_file, _source_row, _raw, _reason, _bytes) values (?, ?, ?, ?, ?)",
                [[str(path), r.line, r.text, r.reason, r.size] for r in found.rejects],
            )
        rows = f"select * from {stage}"
    groups = conn.execute(f"select _event_date, _reason is null as valid, count(*) from ({rows}) group by all").fetchall()
    valid_days = [d for d, valid, _ in groups if valid and d is not None]
    dated = [d for d, _, _ in groups if d is not None]
    home = min(valid_days or dated or [written_at.date()])
    per_day: dict[date, int] = {}
    for day, _, count in groups:
        per_day[day or home] = per_day.get(day or home, 0) + count
    if found.rejects and stage is None:
        per_day[home] = per_day.get(home, 0) + len(found.rejects)
    return home, per_day, sum(per_day.values())


@dataclass(frozen=True)
class StagedInput(EventInput):
    """A file whose validated rows its scan kept on this connection: read from there."""

    stage: str = ""
    kept = True

    def validated(self, conn: duckdb.DuckDBPyConnection, rules: validation.Rules) -> readers.Candidates:
        # The scan validated with the rules of the source the load uses; it knew the home
        # day only after the last row: the rows take it now.
        return readers.Candidates(f"select * replace ({readers.sql_literal(self.home_date)}::date as _home_date) from {self.stage}", [])


def _stages(conn: duckdb.DuckDBPyConnection, create: bool = False) -> dict[str, tuple[int, datetime, str]]:
    """The files whose rows a scan on this connection kept: path -> (size, modified at, table)."""
    if create:
        conn.execute(f"create temp table if not exists {_STAGES} (path varchar, size_bytes bigint, modified_at timestamp, stage varchar)")
    elif not conn.execute("select count(*) from duckdb_tables() where temporary and table_name = ?", [_STAGES]).fetchone()[0]:
        return {}
    return {p: (n, m, t) for p, n, m, t in conn.execute(f"select path, size_bytes, modified_at, stage from {_STAGES}").fetchall()}


def _unstage(conn: duckdb.DuckDBPyConnection, path: str, stages: dict[str, tuple[int, datetime, str]]) -> None:
    if path in stages:
        conn.execute(f"drop table if exists {stages.pop(path)[2]}")
        conn.execute(f"delete from {_STAGES} where path = ?", [path])


def scan(conn: duckdb.DuckDBPyConnection, root: Path, rules: validation.Rules) -> ScanReport:
    """Bring the manifest up to date with the folder: read new and changed files once."""
    for ddl in MANIFEST_DDL:
        conn.execute(ddl)
    conn.execute("set TimeZone = 'UTC'")
    known = {row[0]: (row[1], row[2]) for row in conn.execute("select path, size_bytes, modified_at from raw._files").fetchall()}
    stages = _stages(conn, create=True)
    staged_rows = 0
    files, ignored = data_files(root)
    report = ScanReport(files=len(files), ignored=[str(p) for p in ignored])
    for path in files:
        key, size, modified = str(path), path.stat().st_size, _modified_at(path)
        if known.get(key) == (size, modified):
            continue
        (report.changed if key in known else report.new).append(key)
        _unstage(conn, key, stages)
        stage = f"_pa_staged_{hashlib.md5(key.encode()).hexdigest()[:16]}" if staged_rows < STAGED_ROWS_LIMIT else None
        try:
            home, per_day, rows, error = *_scan_file(conn, path, rules, stage), None
        except duckdb.Error as exc:
            # A truncated or corrupt file must not stop the other files and days: it becomes
            # one quarantine row of its home day, and is read again when it changes.
            home, per_day, rows = modified.date(), {modified.date(): 1}, 1
            error = " ".join(str(exc).split())[:READ_ERROR_LIMIT]
            report.unreadable.append(key)
            if stage is not None:
                conn.execute(f"drop table if exists {stage}")
                stage = None
        report.rows_scanned += rows
        if stage is not None:
            staged_rows += rows
        days = sorted(per_day)
        statements = [
            ("delete from raw._files where path = ?", [key]),
            ("delete from raw._file_days where path = ?", [key]),
            (
                """insert into raw._files (path, format, size_bytes, modified_at, scanned_at, home_date, rows,
                                           first_event_date, last_event_date, read_error)
                   values (?, ?, ?, ?, now()::timestamp, ?, ?, ?, ?, ?)""",
                [key, readers.file_format(path), size, modified, home, rows, days[0] if days else None, days[-1] if days else None, error],
            ),
        ]
        if per_day:
            counts = [per_day[d] for d in days]
            statements.append(("insert into raw._file_days select ?, unnest(?::date[]), unnest(?::bigint[])", [key, days, counts]))
        in_transaction(conn, statements)
        if stage is not None:
            conn.execute(f"insert into {_STAGES} values (?, ?, ?, ?)", [key, size, modified, stage])
            stages[key] = (size, modified, stage)
    present = {str(p) for p in files}
    report.removed = sorted(set(known) - present)
    for key in report.removed:
        _unstage(conn, key, stages)
        in_transaction(conn, [("delete from raw._files where path = ?", [key]), ("delete from raw._file_days where path = ?", [key])])
    return report


def inputs_for_day(conn: duckdb.DuckDBPyConnection, day: date) -> list[EventInput]:
    """The files holding rows attributed to ``day``, per the manifest."""
    stages = _stages(conn)
    rows = conn.execute(
        """
        select f.path, f.home_date, f.modified_at, f.size_bytes, f.read_error from raw._files f
        join raw._file_days d using (path) where d.event_date = ? order by f.path
        """,
        [day],
    ).fetchall()
    inputs: list[EventInput] = []
    for path, home, modified, size, error in rows:
        staged = stages.get(path)
        if staged is not None and staged[:2] == (size, modified):  # kept by the scan that wrote this manifest row
            inputs.append(StagedInput(Path(path), home, modified, error, stage=staged[2]))
        else:
            inputs.append(EventInput(Path(path), home, modified, error))
    return inputs


def days_out_of_date(conn: duckdb.DuckDBPyConnection, first: date, last: date) -> list[MissedDay]:
    """Loaded days whose files changed since they were loaded: rows per the manifest minus
    the rows the last load read (new files with rows of the day are the usual cause)."""
    rows = conn.execute(
        """
        with manifest as (
            select d.event_date, sum(d.rows) as rows, max(f.scanned_at) as last_scanned
            from raw._file_days d join raw._files f using (path)
            where d.event_date between ? and ?
            group by 1
        )
        select l.event_date, coalesce(m.rows, 0) - l.input_rows, m.last_scanned
        from raw.event_loads l left join manifest m using (event_date)
        where l.event_date between ? and ? and coalesce(m.rows, 0) <> l.input_rows
        order by 1
        """,
        [first, last, first, last],
    ).fetchall()
    found = []
    for day, missed, last_scanned in rows:
        end_of_day = datetime.combine(day + timedelta(days=1), datetime.min.time())
        hours = (last_scanned - end_of_day).total_seconds() / 3600 if last_scanned else 0.0
        found.append(MissedDay(day, int(missed), round(hours, 1)))
    return found
