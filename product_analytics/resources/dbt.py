"""The dbt CLI resource: dbt from this environment, pointed at the configured warehouse,
keeping dbt's partial parse warm from one invocation to the next."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtCliResource
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from product_analytics.config import settings
from product_analytics.project import dbt_project
from product_analytics.resources.transient import retried_when_transient
from product_analytics.resources.warehouse import WarehouseLockedError, is_lock_error, locked_message


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


# Unit tests check the SQL, not the data: CI runs them (test_dbt_project.py); production
# builds leave them out.
PRODUCTION_BUILD = ["build", "--exclude-resource-type", "unit_test"]


class DbtCli(DbtCliResource):
    """dbt's profile reads the warehouse path from ``PA_DUCKDB_PATH`` and the project its
    first partition from ``PA_START_DATE``; this resource sets both for each dbt process it
    starts (plus ``env``), so dbt sees what ``config`` resolved. Nothing varies from run to
    run in dbt's vars or profile: its partial parse stays valid, and ``stream`` keeps the
    newest one where the next invocation starts from."""

    warehouse_path: str
    start_date: str
    lock_timeout_seconds: int = 60

    @property
    def connect_attempts(self) -> int:
        """dbt-duckdb sleeps 2**n seconds after its n-th failed connect: the fewest attempts
        whose waits (2**attempts - 1 seconds in all) cover the lock timeout."""
        return max(1, math.ceil(math.log2(self.lock_timeout_seconds + 1)))

    def dbt_environment(self) -> dict[str, str]:
        """What every dbt process of this resource gets (read by profiles.yml and dbt_project.yml)."""
        return {
            "PA_DUCKDB_PATH": self.warehouse_path,
            "PA_START_DATE": self.start_date,
            "PA_DBT_CONNECT_ATTEMPTS": str(self.connect_attempts),
        }

    def cli(self, args, *, env: dict[str, str] | None = None, **kwargs):
        with _environment(**{**self.dbt_environment(), **(env or {})}):
            return super().cli(args, **kwargs)

    def stream(self, args: list[str], context, env: dict[str, str] | None = None):
        """Run dbt for an asset definition, yield its events, then keep its partial parse."""
        invocation = self.cli(args, context=context, env=env)
        with retried_when_transient(self.lock_timeout_seconds), self._lock_errors_explained():
            yield from invocation.stream()
        self.keep_partial_parse(invocation.target_path)

    def run_quietly(self, args: list[str], env: dict[str, str] | None = None) -> None:
        """Run dbt outside any asset's events (the replay of older snapshot images)."""
        invocation = self.cli(args, manifest=dbt_project.manifest_path, env=env)
        with retried_when_transient(self.lock_timeout_seconds), self._lock_errors_explained():
            invocation.wait()
        self.keep_partial_parse(invocation.target_path)

    def run_batch(self, steps: list[tuple[list[str], dict[str, str]]], log=None) -> None:
        """Run dbt invocations (args, extra environment) in order in one dbt process
        (``dbt_batch``: dbt starts and parses once), outside any asset's events."""
        if not steps:
            return
        target = dbt_project.project_dir / dbt_project.target_path / f"batch-{uuid.uuid4().hex[:12]}"
        target.mkdir(parents=True)
        kept = dbt_project.project_dir / dbt_project.target_path / "partial_parse.msgpack"
        if kept.exists():  # a warm parse, as the other invocations get
            shutil.copyfile(kept, target / "partial_parse.msgpack")
        plan = {
            "common": ["--project-dir", str(dbt_project.project_dir), "--profiles-dir", str(self.profiles_dir or dbt_project.profiles_dir)],
            "steps": [{"args": args, "env": env} for args, env in steps],
        }
        (target / "plan.json").write_text(json.dumps(plan))
        env = {
            **os.environ,
            **self.dbt_environment(),
            "DBT_TARGET_PATH": str(target),
            "DBT_LOG_PATH": str(target),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_QUIET": "true",  # errors only: each finished step prints one line of its own
        }
        command = [sys.executable, "-m", "product_analytics.resources.dbt_batch", str(target / "plan.json")]
        output: list[str] = []
        with retried_when_transient(self.lock_timeout_seconds), self._lock_errors_explained():
            with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
                for line in process.stdout:
                    output.append(line.rstrip())
                    if log is not None and line.startswith(("done ", "failed ")):
                        log(line.rstrip())
            if process.returncode != 0:
                raise DagsterDbtCliRuntimeError("dbt (one process for several invocations) failed:\n" + "\n".join(output[-40:]))
        self.keep_partial_parse(target)
        shutil.rmtree(target, ignore_errors=True)

    @contextmanager
    def _lock_errors_explained(self) -> Iterator[None]:
        """dbt could not open the warehouse because a process outside Dagster holds it: the
        same clear error as the warehouse resource's, after the same wait."""
        try:
            yield
        except DagsterDbtCliRuntimeError as exc:
            if not is_lock_error(str(exc)):
                raise
            waited = 2**self.connect_attempts - 1
            raise WarehouseLockedError(locked_message(self.warehouse_path, waited, str(exc).strip()[-600:])) from exc

    @staticmethod
    def keep_partial_parse(target_path: Path) -> None:
        """Copy the invocation's partial parse where dagster-dbt looks for one (dbt/target)."""
        produced = Path(target_path) / "partial_parse.msgpack"
        if produced.exists():
            kept = dbt_project.project_dir / dbt_project.target_path / "partial_parse.msgpack"
            staging = kept.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(produced, staging)
            os.replace(staging, kept)


def dbt_cli() -> DbtCli:
    s = settings()
    return DbtCli(
        project_dir=dbt_project,
        dbt_executable=dbt_executable(),
        warehouse_path=str(s.duckdb_path),
        start_date=s.start_date.isoformat(),
        lock_timeout_seconds=s.lock_timeout_seconds,
    )
