"""All configuration, read from environment variables with safe defaults.

Nothing else in the package reads ``os.environ``; the README lists every
variable. Values are read when called (not at import), so tests can pin them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
DUCKDB_FILE_NAME = "warehouse.duckdb"  # its stem is the database name in dbt's manifest
DEFAULT_START_DATE = "2026-09-01"
# In the data folder: the first day `make demo` gave a new warehouse, the start date when
# PA_START_DATE is not set (so the partitions start where the demo's data does).
START_DATE_RECORD = "start_date"


class ConfigError(ValueError):
    """A configuration variable holds a value that cannot be used."""


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _int(name: str, default: int, minimum: int) -> int:
    raw = _env(name, str(default))
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _hour(name: str, default: int) -> int:
    value = _int(name, default, 0)
    if value > 23:
        raise ConfigError(f"{name}={value} is not an hour of the day (0-23)")
    return value


def _date(name: str, default: str) -> date:
    raw = _env(name, default)
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from exc


def _float(name: str, default: float, minimum: float, maximum: float) -> float:
    raw = _env(name, str(default))
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} must be between {minimum} and {maximum}")
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env(name, default).lower()
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _folder(name: str) -> Path | None:
    raw = _env(name, "")
    return Path(raw).expanduser().resolve() if raw else None


@dataclass(frozen=True)
class Settings:
    engine: str  # dbt's target (dbt/profiles.yml): duckdb
    data_dir: Path
    duckdb_path: Path
    dagster_home: Path
    start_date: date
    sim_seed: int
    sim_daily_users: int
    sim_incident: str | None  # DAY:KIND:FACTOR, checked by the simulator (docs/simulator.md)
    ingest_clock: datetime | None  # None: the wall clock
    lookback_days: int
    schedule_hour: int
    alert_file: Path
    alert_webhook_url: str | None
    source: str  # simulator | files
    events_dir: Path | None  # the user's event files (PA_SOURCE=files)
    tables_dir: Path | None  # the user's table images, optional
    max_clock_skew_hours: int
    max_message_bytes: int
    quarantine_max_rate: float
    lock_timeout_seconds: int  # how long a writer waits for another process's lock on the warehouse
    reader_copy_path: Path  # the read-only copy of the public tables, published after each run
    alert_metrics: tuple[str, ...] | None  # the metrics watched for changes; None: the default list
    alert_thresholds: dict[str, float]  # per metric, a threshold that replaces the default

    @property
    def landing_dir(self) -> Path:
        """Where the simulator writes its exports (the pipeline's input)."""
        return self.data_dir / "landing" / "simulator"

    @property
    def truth_dir(self) -> Path:
        """The simulator's ground truth, read by tests only."""
        return self.data_dir / "simulator_truth"


def recorded_start_date(data_dir: Path) -> str | None:
    """The start date recorded in the data folder by ``record_start_date``, if any."""
    record = data_dir / START_DATE_RECORD
    if not record.exists():
        return None
    return record.read_text().strip() or None


def start_date_chosen(data_dir: Path) -> bool:
    """Whether PA_START_DATE is set or the data folder has recorded a start date."""
    return bool(_env("PA_START_DATE", "")) or recorded_start_date(data_dir) is not None


def record_start_date(data_dir: Path, day: date) -> None:
    """Make ``day`` the data folder's start date for every later process without PA_START_DATE."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / START_DATE_RECORD).write_text(f"{day.isoformat()}\n")


def _start_date(data_dir: Path) -> date:
    recorded = recorded_start_date(data_dir)
    if _env("PA_START_DATE", "") or recorded is None:
        return _date("PA_START_DATE", DEFAULT_START_DATE)
    try:
        return date.fromisoformat(recorded)
    except ValueError as exc:
        record = data_dir / START_DATE_RECORD
        raise ConfigError(f"{record} holds {recorded!r}, not a date (YYYY-MM-DD): correct it or set PA_START_DATE") from exc


def _names(name: str) -> tuple[str, ...] | None:
    raw = _env(name, "")
    if not raw:
        return None
    names = tuple(part.strip() for part in raw.split(","))
    if "" in names:
        raise ConfigError(f"{name}={raw!r} has an empty name (write names separated by commas)")
    return () if names == ("none",) else names


def _thresholds(name: str) -> dict[str, float]:
    raw = _env(name, "")
    found: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        metric, _, value = (piece.strip() for piece in part.partition("="))
        try:
            threshold = float(value)
        except ValueError:
            threshold = -1.0
        if not metric or threshold < 0:
            raise ConfigError(f"{name}: {part!r} is not METRIC=THRESHOLD with a threshold >= 0 (e.g. dau=0.25)")
        found[metric] = threshold
    return found


def _engine() -> str:
    engine = _choice("PA_ENGINE", "duckdb", ("duckdb", "spark"))
    if engine == "spark":
        raise ConfigError(
            "PA_ENGINE=spark: the pipeline runs on DuckDB only so far; on Spark, dbt builds the"
            " staging layer (docs/scale.md, 'Where it stands'): unset PA_ENGINE"
        )
    return engine


def settings() -> Settings:
    data_dir = Path(_env("PA_DATA_DIR", str(PROJECT_ROOT / "data"))).expanduser().resolve()
    duckdb_path = Path(_env("PA_DUCKDB_PATH", str(data_dir / DUCKDB_FILE_NAME))).expanduser().resolve()
    clock_raw = _env("PA_INGEST_CLOCK", "")
    clock = None
    if clock_raw:
        try:
            clock = datetime.fromisoformat(clock_raw)
        except ValueError as exc:
            raise ConfigError(f"PA_INGEST_CLOCK={clock_raw!r} is not an ISO timestamp") from exc
        clock = clock.astimezone(UTC).replace(tzinfo=None) if clock.tzinfo else clock
    return Settings(
        engine=_engine(),
        data_dir=data_dir,
        duckdb_path=duckdb_path,
        dagster_home=Path(_env("DAGSTER_HOME", str(data_dir / "dagster_home"))).expanduser().resolve(),
        start_date=_start_date(data_dir),
        sim_seed=_int("PA_SIM_SEED", 42, 0),
        sim_daily_users=_int("PA_SIM_DAILY_USERS", 500, 10),
        sim_incident=_env("PA_SIM_INCIDENT", "") or None,
        ingest_clock=clock,
        lookback_days=_int("PA_LOOKBACK_DAYS", 3, 0),
        schedule_hour=_hour("PA_SCHEDULE_HOUR", 2),
        alert_file=Path(_env("PA_ALERT_FILE", str(data_dir / "alerts.jsonl"))).expanduser().resolve(),
        alert_webhook_url=_env("PA_ALERT_WEBHOOK_URL", "") or None,
        source=_choice("PA_SOURCE", "simulator", ("simulator", "files")),
        events_dir=_folder("PA_EVENTS_DIR"),
        tables_dir=_folder("PA_TABLES_DIR"),
        max_clock_skew_hours=_int("PA_MAX_CLOCK_SKEW_HOURS", 24, 0),
        max_message_bytes=_int("PA_MAX_MESSAGE_BYTES", 32768, 1),
        quarantine_max_rate=_float("PA_QUARANTINE_MAX_RATE", 0.01, 0.0, 1.0),
        lock_timeout_seconds=_int("PA_LOCK_TIMEOUT_SECONDS", 60, 0),
        reader_copy_path=Path(_env("PA_READER_COPY_PATH", str(data_dir / "readers.duckdb"))).expanduser().resolve(),
        alert_metrics=_names("PA_ALERT_METRICS"),
        alert_thresholds=_thresholds("PA_ALERT_THRESHOLDS"),
    )


if __name__ == "__main__":  # `python -m product_analytics.config dagster-home` for the Makefile
    print(getattr(settings(), sys.argv[1].replace("-", "_")))
