"""The dbt CLI resource: dbt from this environment, pointed at the configured warehouse."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtCliResource

from product_analytics.config import settings
from product_analytics.project import dbt_project


def dbt_executable() -> str:
    """dbt from this interpreter's environment, so Dagster needs no activated virtualenv."""
    for folder in (Path(sys.prefix) / "bin", Path(sys.executable).parent):
        if (folder / "dbt").exists():
            return str(folder / "dbt")
    return shutil.which("dbt") or "dbt"


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Variables set only while a dbt process is started (it copies the environment)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class DbtCli(DbtCliResource):
    """dbt's profile reads the warehouse path from ``PA_DUCKDB_PATH``; this resource sets it
    for each dbt process it starts, so the path resolved by ``config`` is the one dbt opens."""

    warehouse_path: str

    def cli(self, args, **kwargs):
        with _environment(PA_DUCKDB_PATH=self.warehouse_path):
            return super().cli(args, **kwargs)


def dbt_cli() -> DbtCli:
    return DbtCli(project_dir=dbt_project, dbt_executable=dbt_executable(), warehouse_path=str(settings().duckdb_path))
