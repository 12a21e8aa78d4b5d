"""Where raw data comes from: the built-in simulator, or a folder of the user's files.

Both sources answer the same questions for the ingestion assets: which inputs hold the
messages of a day, which files hold a table's image of a day, and which loaded days
have since received more data. ``PA_SOURCE`` chooses one (README, "Your own data").
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from product_analytics.config import ConfigError, settings
from product_analytics.ingestion import manifest, readers
from product_analytics.ingestion.load import EventInput, MissedDay, loaded_days
from product_analytics.ingestion.schema import EVENT_COLUMNS, EVENT_JSON_COLUMNS
from product_analytics.ingestion.validation import Rules
from product_analytics.simulator import LandingWriter, SimulationConfig, events_file, source_file
from product_analytics.simulator.world import Incident


class EventSource(ConfigurableResource):
    """What every source shares: the validation rules and the quarantine threshold."""

    max_clock_skew_hours: int = 24
    max_message_bytes: int = 32768
    quarantine_max_rate: float = 0.01
    first_day: str | None = None  # the first partition (PA_START_DATE); earlier days are out of range

    @property
    def rules(self) -> Rules:
        first = date.fromisoformat(self.first_day) if self.first_day else None
        return Rules(self.max_clock_skew_hours, self.max_message_bytes, first)

    def available_at(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def prepare(self, conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
        """Work before loading days (the file source scans its folder); returns metadata."""
        return {}

    @abstractmethod
    def event_inputs(self, conn: duckdb.DuckDBPyConnection, day: date) -> list[EventInput]:
        """The inputs holding the messages of ``day``."""

    @abstractmethod
    def late_days(self, conn: duckdb.DuckDBPyConnection, first: date, last: date) -> list[MissedDay]:
        """Days between ``first`` and ``last`` that were loaded and have since received messages."""

    @abstractmethod
    def table_files(self, table: str, day: date) -> list[Path]:
        """The files of a table's image of ``day`` (none: no image that day)."""


@dataclass(frozen=True)
class SimulatorExport(EventInput):
    """The simulator's Parquet file of an event day, cut at the ingestion clock: only the
    messages received by ``received_by`` exist yet (late arrivals come in later runs)."""

    received_by: datetime | None = None

    def candidates(self, conn: duckdb.DuckDBPyConnection, limit: int | None = None) -> readers.Candidates:
        received = f"received_at <= {readers.sql_literal(self.received_by)}::timestamp" if self.received_by else ""
        return readers.tabular_candidates(conn, self.path, "parquet", [*EVENT_COLUMNS], EVENT_JSON_COLUMNS, where=received)


def simulator_export(path: Path, day: date, clock: datetime | None) -> list[EventInput]:
    """The inputs of ``day``: its simulator file as of ``clock`` (None: everything in it)."""
    return [SimulatorExport(path, day, clock, received_by=clock)]


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


class SimulatorSource(EventSource):
    """The simulator's export: Parquet files per event day, generated on first use.

    ``clock`` is the ingestion's "now" (ISO timestamp, UTC): only messages received
    by then are loaded. Unset, it is the wall clock; tests set it to replay arrivals.
    """

    landing_dir: str
    truth_dir: str
    seed: int
    daily_users: int
    start_date: str
    clock: str | None = None
    incident: str | None = None  # DAY:KIND:FACTOR (PA_SIM_INCIDENT)

    def simulation(self) -> SimulationConfig:
        return SimulationConfig(
            seed=self.seed,
            epoch=date.fromisoformat(self.start_date),
            daily_users=self.daily_users,
            incident=simulated_incident(self.incident),
        )

    def available_at(self) -> datetime:
        if self.clock:
            moment = datetime.fromisoformat(self.clock)
            return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        return super().available_at()

    def _ensure(self, day: date, path: Path) -> Path:
        if not path.exists():
            LandingWriter(self.simulation(), Path(self.landing_dir), Path(self.truth_dir)).write_day(day)
        return path

    def events_path(self, day: date) -> Path:
        return self._ensure(day, events_file(Path(self.landing_dir), day))

    def event_inputs(self, conn: duckdb.DuckDBPyConnection, day: date) -> list[EventInput]:
        return simulator_export(self.events_path(day), day, self.available_at())

    def late_days(self, conn: duckdb.DuckDBPyConnection, first: date, last: date) -> list[MissedDay]:
        files = {day: events_file(Path(self.landing_dir), day) for day in loaded_days(conn, first, last)}
        return missed_late_events(conn, {d: p for d, p in files.items() if p.exists()}, self.available_at())

    def table_files(self, table: str, day: date) -> list[Path]:
        return [self._ensure(day, source_file(Path(self.landing_dir), table, day))]


class FileSource(EventSource):
    """A folder tree of the user's event files, and optionally one of table images.

    Events: JSONL (plain or gzipped, Segment / RudderStack messages), Parquet or CSV
    (warehouse column names), anywhere under ``events_dir``; a manifest records the
    event days of each file. Tables: ``tables_dir/<table>/...`` files whose path holds
    the image's date (``users/2026-03-10.parquet``, ``orders/dt=2026-03-10/part-0.csv``).
    """

    events_dir: str
    tables_dir: str | None = None

    def prepare(self, conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
        root = Path(self.events_dir)
        if not root.is_dir():
            raise ConfigError(f"PA_EVENTS_DIR={root} is not a folder")
        report = manifest.scan(conn, root, self.rules)
        return {
            "files": report.files,
            "files_new": len(report.new),
            "files_changed": len(report.changed),
            "files_removed": len(report.removed),
            "files_ignored": "\n".join(report.ignored) or "none",
            "files_unreadable": "\n".join(report.unreadable) or "none",
            "rows_scanned": report.rows_scanned,
        }

    def event_inputs(self, conn: duckdb.DuckDBPyConnection, day: date) -> list[EventInput]:
        return manifest.inputs_for_day(conn, day)

    def late_days(self, conn: duckdb.DuckDBPyConnection, first: date, last: date) -> list[MissedDay]:
        return manifest.days_out_of_date(conn, first, last)

    def table_files(self, table: str, day: date) -> list[Path]:
        if not self.tables_dir:
            return []
        folder = Path(self.tables_dir) / table
        if not folder.is_dir():
            return []
        files, _ = manifest.data_files(folder)
        return [p for p in files if readers.date_in_path(p.relative_to(folder)) == day.isoformat()]


def simulated_incident(text: str | None) -> Incident | None:
    """The simulator's incident from its setting, or a ConfigError that says how to write it."""
    if text is None:
        return None
    try:
        return Incident.parse(text)
    except ValueError as exc:
        raise ConfigError(f"PA_SIM_INCIDENT: {exc}") from exc


def event_source() -> EventSource:
    """The source ``PA_SOURCE`` names, configured from the environment."""
    s = settings()
    shared = {
        "max_clock_skew_hours": s.max_clock_skew_hours,
        "max_message_bytes": s.max_message_bytes,
        "quarantine_max_rate": s.quarantine_max_rate,
        "first_day": s.start_date.isoformat(),
    }
    if s.source == "files":
        if s.events_dir is None:
            raise ConfigError("PA_SOURCE=files needs PA_EVENTS_DIR, the folder of event files")
        return FileSource(events_dir=str(s.events_dir), tables_dir=str(s.tables_dir) if s.tables_dir else None, **shared)
    simulated_incident(s.sim_incident)  # a mistyped incident fails the code location's load
    return SimulatorSource(
        landing_dir=str(s.landing_dir),
        truth_dir=str(s.truth_dir),
        seed=s.sim_seed,
        daily_users=s.sim_daily_users,
        start_date=s.start_date.isoformat(),
        clock=s.ingest_clock.isoformat() if s.ingest_clock else None,
        incident=s.sim_incident,
        **shared,
    )
