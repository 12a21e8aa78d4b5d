"""The dbt CLI resource: dbt from this environment, pointed at the configured warehouse,
served during a run by one warm dbt worker (``dbt_worker.py``), and keeping dbt's partial
parse warm from one run to the next."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from dagster import InitResourceContext
from dagster_dbt import DbtCliResource
from dagster_dbt.errors import DagsterDbtCliRuntimeError
from pydantic import PrivateAttr

from product_analytics.config import settings
from product_analytics.project import dbt_project
from product_analytics.resources.recovery import process_exists
from product_analytics.resources.transient import retried_when_transient
from product_analytics.resources.warehouse import WarehouseLockedError, is_lock_error, locked_message

# What dagster-dbt starts as "dbt": the run's worker when one is up, else dbt itself.
DBT_SHIM = Path(__file__).parent / "bin" / "dbt"
# Where every dbt invocation, and each run's worker, starts its parse from (dagster-dbt
# copies it into each invocation's target folder).
KEPT_PARTIAL_PARSE = dbt_project.project_dir / dbt_project.target_path / "partial_parse.msgpack"


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


def sweep_dead_workers() -> None:
    """Remove the socket and target folders of workers whose run process was killed (a
    stopped worker removes its own): their names start with that process's id."""
    folders = [*Path(tempfile.gettempdir()).glob("pa-dbt-*-*"), *(dbt_project.project_dir / dbt_project.target_path).glob("worker-*-*")]
    for folder in folders:
        pid = folder.name.removeprefix("pa-dbt-").removeprefix("worker-").split("-")[0]
        if pid.isdigit() and not process_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


class DbtWorker:
    """The run's warm dbt (``dbt_worker.py``): started when the resource starts, so dbt is
    imported and the project parsed while the run's first steps work; stopped with it."""

    def __init__(self, environment: dict[str, str]):
        sweep_dead_workers()
        # Named after this process, whose death makes them sweepable; short: a socket path
        # has about 100 bytes.
        self.folder = Path(tempfile.mkdtemp(prefix=f"pa-dbt-{os.getpid()}-"))
        self.socket = self.folder / "worker.sock"
        target = dbt_project.project_dir / dbt_project.target_path / f"worker-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        target.mkdir(parents=True)
        if KEPT_PARTIAL_PARSE.exists():
            shutil.copyfile(KEPT_PARTIAL_PARSE, target / "partial_parse.msgpack")
        self.target = target
        # What routes a dbt invocation through this worker (read by the shim, bin/dbt).
        self.environment = {
            "PA_DBT_WORKER_SOCKET": str(self.socket),
            "PA_DBT_WORKER_PYTHON": sys.executable,
            "PA_DBT_WORKER_CLIENT": str(Path(__file__).parent / "dbt_worker_client.py"),
            "PA_DBT_VERSION": version("dbt-core"),
        }
        env = {
            **os.environ,
            **environment,
            "DBT_PROJECT_DIR": str(dbt_project.project_dir),
            "DBT_PROFILES_DIR": str(dbt_project.profiles_dir),
            "DBT_TARGET_PATH": str(target),
            "DBT_LOG_PATH": str(target),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        self.log = open(target / "worker.log", "wb")  # noqa: SIM115 - open as long as the worker lives
        # Bound and listening before the worker starts: an invocation can connect at once and
        # waits while dbt is imported and parses.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(self.socket))
            listener.listen(16)
            # Its standard input is its lifeline: it exits when this process closes it or dies.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "product_analytics.resources.dbt_worker", str(listener.fileno()), str(KEPT_PARTIAL_PARSE)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                cwd=dbt_project.project_dir,
                pass_fds=[listener.fileno()],
            )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Called after the run's steps, when no invocation is in flight: the worker may
        still be importing dbt (a run without dbt steps), so it is not waited for."""
        self.process.stdin.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        shutil.rmtree(self.target, ignore_errors=True)


class DbtCli(DbtCliResource):
    """dbt's profile reads the warehouse path from ``PA_DUCKDB_PATH`` and the project its
    first partition from ``PA_START_DATE``; this resource sets both for each dbt process it
    starts (plus ``env``), so dbt sees what ``config`` resolved. Nothing varies from run to
    run in dbt's vars or profile: its partial parse stays valid, and ``stream`` keeps the
    newest one where the next run's worker starts from.

    During a run (between ``setup_for_execution`` and ``teardown_after_execution``) every
    invocation is served by one warm dbt worker: dbt starts and parses once per run, not
    once per invocation."""

    warehouse_path: str
    start_date: str
    lock_timeout_seconds: int = 60
    _worker: DbtWorker | None = PrivateAttr(default=None)
    _last_target: Path | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        super().setup_for_execution(context)
        self._worker = DbtWorker(self.dbt_environment())

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        super().teardown_after_execution(context)

    def _initialize_dbt_core_adapter(self, args):
        """No dbt adapter in the Dagster process: dagster-dbt opens one (2 to 3 s of loading
        dbt's macros per invocation) only to fetch row counts and columns, and a DuckDB file
        held by the dbt process writing it cannot be opened by another process anyway."""
        return None

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
        routing = {"PA_DBT_EXECUTABLE": dbt_executable()}
        if self._worker is not None and self._worker.alive:
            routing.update(self._worker.environment)
        with _environment(**{**self.dbt_environment(), **routing, **(env or {})}):
            return super().cli(args, **kwargs)

    def stream(self, args: list[str], context, env: dict[str, str] | None = None):
        """Run dbt for an asset definition, yield its events, then keep its partial parse."""
        invocation = self.cli(args, context=context, env=env)
        self._last_target = Path(invocation.target_path)
        with retried_when_transient(self.lock_timeout_seconds), self._lock_errors_explained():
            yield from invocation.stream()
        self.keep_partial_parse(invocation.target_path)

    def last_run_results(self) -> dict | None:
        """dbt's ``run_results.json`` of the last ``stream``, failed or not (None when dbt
        ended before writing it)."""
        found = self._last_target / "run_results.json" if self._last_target else None
        return json.loads(found.read_text()) if found and found.exists() else None

    def run_quietly(self, args: list[str], env: dict[str, str] | None = None) -> None:
        """Run dbt outside any asset's events (a restated day, the replay of older snapshot
        images)."""
        invocation = self.cli(args, manifest=dbt_project.manifest_path, env=env)
        with retried_when_transient(self.lock_timeout_seconds), self._lock_errors_explained():
            invocation.wait()
        self.keep_partial_parse(invocation.target_path)

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
            staging = KEPT_PARTIAL_PARSE.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(produced, staging)
            os.replace(staging, KEPT_PARTIAL_PARSE)


def dbt_cli() -> DbtCli:
    s = settings()
    return DbtCli(
        project_dir=dbt_project,
        dbt_executable=str(DBT_SHIM),
        warehouse_path=str(s.duckdb_path),
        start_date=s.start_date.isoformat(),
        lock_timeout_seconds=s.lock_timeout_seconds,
    )
