"""Resources shared by every domain: the DuckDB warehouse and the dbt CLI."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from product_analytics.config import settings
from product_analytics.project import dbt_project

# Every asset that writes to DuckDB runs in this pool; dagster.yaml gives it one slot,
# because DuckDB allows a single writing process per file.
DUCKDB_WRITER_POOL = "duckdb_writer"


def warehouse() -> DuckDBResource:
    path = settings().duckdb_path
    return DuckDBResource(database=str(path))


def dbt_executable() -> str:
    """dbt from this interpreter's environment, so Dagster needs no activated virtualenv."""
    for folder in (Path(sys.prefix) / "bin", Path(sys.executable).parent):
        if (folder / "dbt").exists():
            return str(folder / "dbt")
    return shutil.which("dbt") or "dbt"


def dbt_cli() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
