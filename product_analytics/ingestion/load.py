"""Loading one day into a raw table: every input row loaded once, counted as a
duplicate, or quarantined with its reason, and the day replaced all or nothing.

Events and table images go through one routine (``_replace_day``); they differ only in
their validation, their key, which copy of a key is kept, and the events' day totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from product_analytics.ingestion import readers, validation
from product_analytics.ingestion.schema import EVENT_COLUMNS, EVENT_JSON_COLUMNS, SOURCE_COLUMNS, in_transaction, raw_table_exists


@dataclass(frozen=True)
class EventInput:
    """A file holding messages of the day being loaded.

    ``home_date``: the day its undatable rows are attributed to; ``written_at``: when the
    file was written (the reference of the future-timestamp rule). A source with its own
    way of reading a file overrides ``candidates``.
    """

    path: Path
    home_date: date
    written_at: datetime
    read_error: str | None = None  # the file could not be read when it was scanned
    kept = False  # its validated rows are kept in a table for the load to read in place

    def candidates(self, conn: duckdb.DuckDBPyConnection, limit: int | None = None) -> readers.Candidates:
        if self.read_error is not None:
            return readers.unreadable_file(self.path, [*EVENT_COLUMNS], EVENT_JSON_COLUMNS, self.read_error)
        return readers.candidates(conn, self.path, [*EVENT_COLUMNS], EVENT_JSON_COLUMNS, limit)

    def validated(self, conn: duckdb.DuckDBPyConnection, rules: validation.Rules) -> readers.Candidates:
        """The file's rows validated (``validation.validated_events``) and its reader's rejects."""
        found = self.candidates(conn, readers.line_limit(rules.max_message_bytes))
        sql = validation.validated_events(found.sql, rules, self.home_date, self.written_at, found.typed)
        return readers.Candidates(sql, found.rejects)


@dataclass(frozen=True)
class EventDayStats:
    day: date
    rows: int  # loaded: one per message id, not kept on another day
    distinct_users: int
    distinct_anonymous_ids: int
    duplicates: int  # valid copies of a message kept elsewhere (this day or the one it was first received on)
    late_events: int  # received after their event day had ended
    min_event_at: datetime | None
    max_event_at: datetime | None
    input_rows: int = 0
    quarantined: int = 0
    quarantine_reasons: tuple[tuple[str, int], ...] = ()

    @property
    def reconciles(self) -> bool:
        return self.input_rows == self.rows + self.quarantined + self.duplicates


_BOOKKEEPING = {"_source_file": "varchar", "_source_row": "bigint", "_raw": "varchar", "_reason": "varchar", "_bytes": "bigint"}


@dataclass(frozen=True)
class _Target:
    """A raw table loaded by day."""

    table: str  # its name in schema raw
    day_column: str
    columns: dict[str, str]
    key: str  # one row per key and day
    keep_first: str  # which copy of a key is loaded: the first in this order


@dataclass(frozen=True)
class _Part:
    """The rows one input file gives a day: the SQL of its validated rows (``_reason`` set
    for the invalid ones) and the lines its reader rejected. ``in_place``: the SQL reads
    tables that last until the load ends (a scan's kept rows), so the day reads them where
    they are instead of copying them."""

    path: Path
    sql: str
    rejects: list[readers.Reject]
    in_place: bool = False


def _replace_day(
    conn: duckdb.DuckDBPyConnection,
    target: _Target,
    day: date,
    parts: Iterable[_Part],
    day_totals: tuple[tuple[str, list | dict], ...] = (),
) -> None:
    """Replace ``day`` of ``raw.<target.table>`` and its quarantine rows.

    ``parts`` is consumed one file at a time, each copied before the next is read (a reader
    may reuse its scratch tables) unless it is read in place. ``day_totals``: statements run
    last in the same transaction (they may read the day's rows, ``_pa_day``).
    """
    conn.execute("set TimeZone = 'UTC'")
    work = {**target.columns, **_BOOKKEEPING}
    conn.execute(f"create or replace temp table _pa_day_read ({', '.join(f'{_q(c)} {t}' for c, t in work.items())})")
    names = ", ".join(_q(c) for c in work)
    typed_names = ", ".join(f"{_q(c)}::{t} as {_q(c)}" for c, t in work.items())
    in_place = []
    for part in parts:
        if part.in_place and not part.rejects:
            in_place.append(f"select {typed_names} from ({part.sql})")
            continue
        conn.execute(f"insert into _pa_day_read by name select {names} from ({part.sql})")
        if part.rejects:  # lines the reader did not turn into rows become quarantine rows
            conn.executemany(
                "insert into _pa_day_read (_source_file, _source_row, _raw, _reason, _bytes) values (?, ?, ?, ?, ?)",
                [[str(part.path), r.line, r.text, r.reason, r.size] for r in part.rejects],
            )
    conn.execute(f"create or replace temp view _pa_day as {' union all '.join([f'select {names} from _pa_day_read', *in_place])}")
    values = ", ".join(_q(c) for c in target.columns)
    raw_text = f"left(_raw, {validation.RAW_TEXT_LIMIT})"
    in_transaction(
        conn,
        [
            (f"delete from raw.{target.table} where {target.day_column} = ?", [day]),
            ("delete from raw.quarantine where source = ? and partition_date = ?", [target.table, day]),
            (
                # the copies of a key after its first in the keeping order: only keys held more
                # than once are ranked (a valid row is one file's row: file and row name it)
                f"""
                insert into raw.{target.table} by name
                with repeated as (select {target.key} from _pa_day where _reason is null group by 1 having count(*) > 1),
                later_copies as (
                    select _source_file, _source_row from _pa_day
                    where _reason is null and {target.key} in (from repeated)
                    qualify row_number() over (partition by {target.key} order by {target.keep_first}, _source_file, _source_row) > 1
                )
                select ?::date as {target.day_column}, {values}, _source_file, _source_row, now()::timestamp as _loaded_at
                from _pa_day anti join later_copies using (_source_file, _source_row)
                where _reason is null
                """,
                [day],
            ),
            (
                f"""
                insert into raw.quarantine
                    (partition_date, source, source_file, source_row, reason, raw_text, message_id, quarantined_at, raw_bytes)
                select ?::date, ?, _source_file, _source_row, _reason, {raw_text}, {target.key}, now()::timestamp, _bytes
                from _pa_day where _reason is not null
                """,
                [day, target.table],
            ),
            *day_totals,
        ],
    )
    conn.execute("drop view _pa_day")
    conn.execute("drop table _pa_day_read")


def _q(name: str) -> str:
    return f'"{name}"'


_EVENTS = _Target("events", "event_date", EVENT_COLUMNS, "message_id", "received_at nulls last")


def load_events_day(
    conn: duckdb.DuckDBPyConnection, day: date, inputs: list[EventInput], rules: validation.Rules | None = None
) -> EventDayStats:
    """Replace ``raw.events`` (and the day's quarantine rows and totals) with the messages of ``day``.

    Every input row attributed to the day ends up exactly once: loaded (the earliest
    received copy of each message id), counted as a duplicate, or quarantined with its
    reason; ``raw.event_loads`` records the day's totals.
    """
    rules = rules or validation.Rules()

    def validated() -> Iterator[_Part]:
        for item in inputs:
            found = item.validated(conn, rules)
            on_day = f"select * from ({found.sql}) where coalesce(_event_date, _home_date) = {readers.sql_literal(day)}::date"
            yield _Part(item.path, on_day, found.rejects if item.home_date == day else [], item.kept)

    clear_totals = ("delete from raw.event_loads where event_date = ?", [day])
    totals = (
        """
        insert into raw.event_loads
        select ?::date, count(*), count(distinct message_id) filter (where _reason is null),
               count(*) filter (where _reason is not null),
               count(*) filter (where _reason is null) - count(distinct message_id) filter (where _reason is null),
               ?, now()::timestamp
        from _pa_day
        """,
        [day, len(inputs)],
    )
    clear_files = ("delete from raw.event_file_loads where event_date = ?", [day])
    per_file = (
        """
        insert into raw.event_file_loads
        select $day, _source_file, count(*), count(case when _reason is not null then 1 end),
               count(case when _reason is null then 1 end) - coalesce(any_value(kept.rows), 0)
        from _pa_day
        left join (select _source_file, count(*) as rows from raw.events where event_date = $day group by 1) as kept using (_source_file)
        group by _source_file
        """,
        {"day": day},
    )
    day_totals = (clear_totals, totals, clear_files, per_file, *_settle_copies_across_days(day))
    _replace_day(conn, _EVENTS, day, validated(), day_totals)
    return event_day_stats(conn, day)


@dataclass(frozen=True)
class FileReconciliation:
    """What the loads of some days made of one input file's rows of those days."""

    source_file: str
    scanned: int | None  # rows of those days the folder's manifest found in the file (file source only)
    input_rows: int  # rows of the file the loads read
    loaded: int
    quarantined: int
    duplicates: int  # copies of a message kept from another row, of this file or another, of any day

    @property
    def reconciles(self) -> bool:
        read_all = self.scanned is None or self.scanned == self.input_rows
        return read_all and self.input_rows == self.loaded + self.quarantined + self.duplicates


def file_reconciliation(conn: duckdb.DuckDBPyConnection, first: date, last: date) -> list[FileReconciliation]:
    """Per input file of the days ``first``..``last``: scanned = loaded + quarantined + duplicates."""
    scanned = (
        "(select path as source_file, sum(rows) as scanned from raw._file_days where event_date between $first and $last group by 1)"
        if raw_table_exists(conn, "_file_days")  # the file source's manifest
        else "(select null::varchar as source_file, null::bigint as scanned where false)"
    )
    rows = conn.execute(
        f"""
        with loads as (
            select source_file, sum(input_rows) as input_rows, sum(quarantined_rows) as quarantined, sum(duplicate_rows) as duplicates
            from raw.event_file_loads where event_date between $first and $last group by 1
        ),
        rows_of_days as (
            select e._source_file as source_file, s.message_id is not null as superseded
            from raw.events as e
            left join raw.superseded_events as s using (event_date, message_id)
            where e.event_date between $first and $last
        ),
        kept as (
            select source_file, count(case when not superseded then 1 end) as loaded, count(case when superseded then 1 end) as moved
            from rows_of_days group by 1
        )
        select source_file, manifest.scanned, coalesce(loads.input_rows, 0), coalesce(kept.loaded, 0),
               coalesce(loads.quarantined, 0), coalesce(loads.duplicates, 0) + coalesce(kept.moved, 0)
        from loads
        full join {scanned} as manifest using (source_file)  -- a file of these days the loads did not read
        left join kept using (source_file)
        order by source_file
        """,
        {"first": first, "last": last},
    ).fetchall()
    return [FileReconciliation(f, None if n is None else int(n), int(i), int(k), int(q), int(d)) for f, n, i, k, q, d in rows]


# Which copy of a message id is kept when several days hold one: the earliest received,
# then the earliest day; an order that does not depend on when each day was loaded.
_COPY_ORDER = "received_at nulls last, event_date, _source_file, _source_row"


def _settle_copies_across_days(day: date) -> list[tuple[str, list]]:
    """Statements (run in the day's transaction, after its rows are in) that bring
    ``raw.superseded_events`` up to date for the message ids ``day`` shares with other days,
    and record in ``raw.restated_days`` every other day whose kept copies changed.

    Only those ids are touched: the cost is one scan of ``raw.events.message_id``, however
    many days share ids.
    """
    touched = "(select message_id from _pa_touched)"
    return [
        (
            """
            create or replace temp table _pa_touched as
            select message_id from raw.superseded_events where event_date = $day or kept_event_date = $day
            union
            select e.message_id from raw.events as e
            semi join (select message_id from raw.events where event_date = $day) as d using (message_id)
            where e.event_date <> $day
            """,
            {"day": day},
        ),
        (
            f"create or replace temp table _pa_before as select event_date, message_id from raw.superseded_events "
            f"where message_id in {touched}",
            [],
        ),
        (f"delete from raw.superseded_events where message_id in {touched}", []),
        (
            f"""
            insert into raw.superseded_events
            select event_date, message_id, kept_event_date, kept_received_at from (
                select event_date, message_id,
                       first_value(event_date) over copies as kept_event_date,
                       first_value(received_at) over copies as kept_received_at,
                       row_number() over copies as copy_number
                from raw.events where message_id in {touched}
                window copies as (partition by message_id order by {_COPY_ORDER})
            ) where copy_number > 1
            """,
            [],
        ),
        (
            f"create or replace temp table _pa_after as select event_date, message_id from raw.superseded_events "
            f"where message_id in {touched}",
            [],
        ),
        (
            """
            insert into raw.restated_days
            select distinct event_date, now()::timestamp, $day
            from ((from _pa_before except from _pa_after) union all (from _pa_after except from _pa_before))
            where event_date <> $day
            """,
            {"day": day},
        ),
        ("drop table _pa_touched", []),
        ("drop table _pa_before", []),
        ("drop table _pa_after", []),
    ]


def event_day_stats(conn: duckdb.DuckDBPyConnection, day: date) -> EventDayStats:
    row = conn.execute(
        """
        select count(*), count(distinct user_id), count(distinct anonymous_id),
               count(*) filter (where received_at >= event_date + interval 1 day),
               min("timestamp"), max("timestamp")
        from raw.events anti join raw.superseded_events using (event_date, message_id)
        where event_date = $day
        """,
        {"day": day},
    ).fetchall()[0]
    superseded = conn.execute("select count(*) from raw.superseded_events where event_date = ?", [day]).fetchall()[0][0]
    loads = conn.execute("select input_rows, quarantined_rows, duplicate_rows from raw.event_loads where event_date = ?", [day]).fetchall()
    input_rows, quarantined, duplicates = loads[0] if loads else (row[0] + superseded, 0, 0)
    duplicates += superseded  # copies kept on another day count as this day's duplicates
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
    target = _Target(table, "snapshot_date", columns, "id", "updated_at desc nulls last")

    def validated() -> Iterator[_Part]:
        for path in [paths] if isinstance(paths, Path) else paths:
            found = readers.candidates(conn, path, list(columns), [])
            yield _Part(path, validation.validated_table(found.sql, columns), found.rejects)

    _replace_day(conn, target, day, validated())
    return conn.execute(f"select count(*) from raw.{table} where snapshot_date = ?", [day]).fetchall()[0][0]


@dataclass(frozen=True)
class MissedDay:
    day: date
    missed: int  # messages available now that the warehouse does not hold
    max_hours_late: float  # how long after the end of their day the latest of them arrived


def loaded_days(conn: duckdb.DuckDBPyConnection, first: date, last: date) -> list[date]:
    rows = conn.execute(
        "select event_date from (select event_date from raw.event_loads union select event_date from raw.events) "
        "where event_date between ? and ? order by 1",
        [first, last],
    )
    return [row[0] for row in rows.fetchall()]
