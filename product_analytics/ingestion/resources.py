"""Where raw data comes from: the built-in simulator's landing files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from dagster import ConfigurableResource

from product_analytics.config import settings
from product_analytics.simulator import LandingWriter, SimulationConfig, events_file, source_file


class SimulatorSource(ConfigurableResource):
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

    def simulation(self) -> SimulationConfig:
        return SimulationConfig(seed=self.seed, epoch=date.fromisoformat(self.start_date), daily_users=self.daily_users)

    def available_at(self) -> datetime:
        if self.clock:
            moment = datetime.fromisoformat(self.clock)
            return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        return datetime.now(UTC).replace(tzinfo=None)

    def _ensure(self, day: date, path: Path) -> Path:
        if not path.exists():
            LandingWriter(self.simulation(), Path(self.landing_dir), Path(self.truth_dir)).write_day(day)
        return path

    def events_path(self, day: date) -> Path:
        return self._ensure(day, events_file(Path(self.landing_dir), day))

    def existing_events_path(self, day: date) -> Path | None:
        """The day's file if it has been written (never generates one)."""
        path = events_file(Path(self.landing_dir), day)
        return path if path.exists() else None

    def source_path(self, table: str, day: date) -> Path:
        return self._ensure(day, source_file(Path(self.landing_dir), table, day))


def simulator_source() -> SimulatorSource:
    s = settings()
    return SimulatorSource(
        landing_dir=str(s.landing_dir),
        truth_dir=str(s.truth_dir),
        seed=s.sim_seed,
        daily_users=s.sim_daily_users,
        start_date=s.start_date.isoformat(),
        clock=s.ingest_clock.isoformat() if s.ingest_clock else None,
    )
