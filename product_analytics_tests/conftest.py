"""Test configuration: every setting is pinned here, before the package is imported."""

import os
import tempfile
from datetime import date
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="product_analytics_tests_"))
START = date(2026, 3, 1)
os.environ.update(
    {
        "PA_DATA_DIR": str(_SESSION_DIR / "data"),
        "PA_START_DATE": START.isoformat(),
        "PA_SIM_SEED": "7",
        "PA_SIM_DAILY_USERS": "150",
        "PA_INGEST_CLOCK": "2026-04-01T00:00:00",
        "DAGSTER_HOME": str(_SESSION_DIR / "dagster_home"),
    }
)
_UNSET = ["PA_DUCKDB_PATH", "PA_SOURCE", "PA_EVENTS_DIR", "PA_TABLES_DIR"]
_UNSET += ["PA_MAX_CLOCK_SKEW_HOURS", "PA_MAX_MESSAGE_BYTES", "PA_QUARANTINE_MAX_RATE"]
_UNSET += ["PA_ENGINE", "PA_SPARK_WAREHOUSE_DIR"]
for _name in _UNSET:
    os.environ.pop(_name, None)
(_SESSION_DIR / "dagster_home").mkdir(parents=True, exist_ok=True)

from product_analytics.simulator import LandingWriter, SimulationConfig  # noqa: E402

SIM_DAYS = [date(2026, 3, 10 + i) for i in range(6)]


@pytest.fixture(scope="session")
def sim_config() -> SimulationConfig:
    return SimulationConfig(seed=11, epoch=START, daily_users=300)


@pytest.fixture(scope="session")
def landing(sim_config, tmp_path_factory):
    """Six simulated days written as the pipeline would find them."""
    root = tmp_path_factory.mktemp("landing")
    writer = LandingWriter(sim_config, root / "landing", root / "truth")
    writer.write_days(SIM_DAYS)
    return root
